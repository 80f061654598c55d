module github.com/imkit/imkit

go 1.26.8

package protocol

// DecodeSimple exposes decodeSimple to the fuzz test.
var DecodeSimple = decodeSimple

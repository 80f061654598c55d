package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// maxProfileField is the longest Nick or FaceUrl, in bytes (Tencent's
// profile value limit).
const maxProfileField = 500

// accountNotExist is Tencent's ResultInfo for 70107 in account_delete.
const accountNotExist = "Err_TLS_PT_Open_Login_Account_Not_Exist"

// idTypeCode maps a mistyped account field to 60015 (the account must be a
// string), others to 70402.
func idTypeCode(field string) imkit.Code {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:] // DeleteItem.UserID
	}
	switch field {
	case "UserID", "Identifier", "Accounts", "To_Account", "From_Account":
		return imkit.ErrSvrInvalidIDFormat
	}
	return imkit.ErrSvrInvalidParameters
}

// userID returns the account named by UserID or, in older clients,
// Identifier, checked.
func userID(userID, identifier string) (string, error) {
	id := userID
	if id == "" {
		id = identifier
	}
	if id == "" {
		return "", imkit.Errorf(imkit.ErrSvrInvalidParameters, "UserID is required")
	}
	return id, checkID(id)
}

// checkID refuses a malformed UserID with 70402.
func checkID(id string) error {
	if err := imkit.ValidateUserID(id); err != nil {
		return imkit.Errorf(imkit.ErrSvrInvalidParameters, "UserID %q: %s", clip(id), imkit.ErrorMessage(err))
	}
	return nil
}

type accountImportRequest struct {
	UserID     string  `json:"UserID"`
	Identifier string  `json:"Identifier"` // the older name of UserID
	Nick       *string `json:"Nick"`
	FaceURL    *string `json:"FaceUrl"`
}

// importOne creates or updates one account; a field left out keeps its
// stored value.
func (a *API) importOne(ctx context.Context, c *call, r *accountImportRequest) error {
	id, err := userID(r.UserID, r.Identifier)
	if err != nil {
		return err
	}
	if r.Nick != nil && len(*r.Nick) > maxProfileField || r.FaceURL != nil && len(*r.FaceURL) > maxProfileField {
		return imkit.Errorf(codeProfileSizeLimit, "Nick and FaceUrl are at most %d bytes", maxProfileField)
	}
	u := store.User{App: c.app.SDKAppID, UserID: id, Imported: true, CreatedAt: c.now}
	if r.Nick == nil || r.FaceURL == nil {
		old, err := a.store.User(ctx, c.app.SDKAppID, id)
		switch {
		case err == nil:
			u.Nick, u.FaceURL = old.Nick, old.FaceURL
		case !errors.Is(err, store.ErrNotFound):
			return internal("import: load user", err)
		}
	}
	if r.Nick != nil {
		u.Nick = *r.Nick
	}
	if r.FaceURL != nil {
		u.FaceURL = *r.FaceURL
	}
	if _, err := a.store.ImportUser(ctx, u, a.sessions.Day(c.now)); err != nil {
		return internal("import user", err)
	}
	return nil
}

func (a *API) accountImport(ctx context.Context, c *call) (any, error) {
	var r accountImportRequest
	if err := c.decode(&r, idTypeCode); err != nil {
		return nil, err
	}
	if err := a.importOne(ctx, c, &r); err != nil {
		return nil, err
	}
	return &Envelope{}, nil
}

type multiAccountImportRequest struct {
	Accounts    []string               `json:"Accounts"`    // the older form: UserIDs only
	AccountList []accountImportRequest `json:"AccountList"` // UserID, Nick, FaceUrl
}

type multiAccountImportReply struct {
	Envelope
	FailAccounts []string `json:"FailAccounts"`
}

func (a *API) multiAccountImport(ctx context.Context, c *call) (any, error) {
	var r multiAccountImportRequest
	if err := c.decode(&r, idTypeCode); err != nil {
		return nil, err
	}
	list := r.AccountList
	for _, id := range r.Accounts {
		list = append(list, accountImportRequest{UserID: id})
	}
	if len(list) == 0 {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "AccountList (or Accounts) is required")
	}
	if len(list) > MaxAccounts {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidCount, "%d accounts in one call; at most %d", len(list), MaxAccounts)
	}
	reply := &multiAccountImportReply{FailAccounts: []string{}}
	for i := range list {
		err := a.importOne(ctx, c, &list[i])
		if err == nil {
			continue
		}
		if _, ok := errors.AsType[*imkit.Error](err); !ok {
			if ctx.Err() != nil {
				return nil, err
			}
			a.log.Error("rest: multiaccount_import", "app", c.app.SDKAppID, "err", err)
		}
		id := list[i].UserID
		if id == "" {
			id = list[i].Identifier
		}
		reply.FailAccounts = append(reply.FailAccounts, id)
	}
	return reply, nil
}

// userItem is an item of the DeleteItem and CheckItem lists.
type userItem struct {
	UserID string `json:"UserID"`
}

type resultItem struct {
	ResultCode    imkit.Code `json:"ResultCode"`
	ResultInfo    string     `json:"ResultInfo"`
	UserID        string     `json:"UserID"`
	AccountStatus string     `json:"AccountStatus,omitempty"` // account_check only
}

type resultReply struct {
	Envelope
	ResultItem []resultItem `json:"ResultItem"`
}

// items checks the length of an item list.
func items(list []userItem, name string) error {
	if len(list) == 0 {
		return imkit.Errorf(imkit.ErrSvrInvalidParameters, "%s is required", name)
	}
	if len(list) > MaxAccounts {
		return imkit.Errorf(imkit.ErrSvrInvalidCount, "%d items in %s; at most %d", len(list), name, MaxAccounts)
	}
	return nil
}

func (a *API) accountDelete(ctx context.Context, c *call) (any, error) {
	var r struct {
		DeleteItem []userItem `json:"DeleteItem"`
	}
	if err := c.decode(&r, idTypeCode); err != nil {
		return nil, err
	}
	if err := items(r.DeleteItem, "DeleteItem"); err != nil {
		return nil, err
	}
	reply := &resultReply{ResultItem: make([]resultItem, 0, len(r.DeleteItem))}
	for _, it := range r.DeleteItem {
		res := resultItem{UserID: it.UserID}
		if err := a.deleteOne(ctx, c, it.UserID); err != nil {
			if _, ok := errors.AsType[*imkit.Error](err); !ok {
				return nil, err
			}
			res.ResultCode, res.ResultInfo = imkit.ErrorCode(err), imkit.ErrorMessage(err)
		}
		reply.ResultItem = append(reply.ResultItem, res)
	}
	return reply, nil
}

// deleteOne ends the user's sessions (telling its online instances) and
// deletes the account.
func (a *API) deleteOne(ctx context.Context, c *call, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	notFound := &imkit.Error{Code: imkit.ErrSvrAccountNotFound, Message: accountNotExist}
	if _, err := a.sessions.KickUser(ctx, c.app.SDKAppID, id); err != nil {
		if imkit.ErrorCode(err) == imkit.ErrSvrAccountNotFound {
			return notFound
		}
		return err
	}
	err := a.store.DeleteUser(ctx, c.app.SDKAppID, id, c.now)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return internal("delete user", err)
	}
	return nil
}

func (a *API) accountCheck(ctx context.Context, c *call) (any, error) {
	var r struct {
		CheckItem []userItem `json:"CheckItem"`
	}
	if err := c.decode(&r, idTypeCode); err != nil {
		return nil, err
	}
	if err := items(r.CheckItem, "CheckItem"); err != nil {
		return nil, err
	}
	reply := &resultReply{ResultItem: make([]resultItem, 0, len(r.CheckItem))}
	for _, it := range r.CheckItem {
		res := resultItem{UserID: it.UserID, AccountStatus: "NotImported"}
		if err := checkID(it.UserID); err != nil {
			res.ResultCode, res.ResultInfo = imkit.ErrorCode(err), imkit.ErrorMessage(err)
		} else {
			_, err := a.store.User(ctx, c.app.SDKAppID, it.UserID)
			switch {
			case err == nil:
				res.AccountStatus = "Imported"
			case !errors.Is(err, store.ErrNotFound):
				return nil, internal("check user", err)
			}
		}
		reply.ResultItem = append(reply.ResultItem, res)
	}
	return reply, nil
}

func (a *API) kick(ctx context.Context, c *call) (any, error) {
	var r struct {
		UserID     string `json:"UserID"`
		Identifier string `json:"Identifier"`
	}
	if err := c.decode(&r, idTypeCode); err != nil {
		return nil, err
	}
	id, err := userID(r.UserID, r.Identifier)
	if err != nil {
		return nil, err
	}
	if _, err := a.sessions.KickUser(ctx, c.app.SDKAppID, id); err != nil {
		return nil, err
	}
	return &Envelope{}, nil
}

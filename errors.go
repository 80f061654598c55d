package imkit

import (
	"errors"
	"fmt"
)

// Code is one of Tencent Cloud Chat's numeric error codes. The SDK returns
// them from its calls, the server sends them in replies and close frames, and
// the REST API puts them in ErrorCode. 0 means success.
type Code int

// SDK (client side) codes, as in Tencent's V2TIMErrorCode.
const (
	OK Code = 0

	ErrInProgress          Code = 6015 // ERR_IN_PROGESS: the same call is already running
	ErrInvalidParameters   Code = 6017 // ERR_INVALID_PARAMETERS
	ErrIOOperationFailed   Code = 6022 // ERR_IO_OPERATION_FAILED: local disk error
	ErrInvalidJSON         Code = 6027 // ERR_INVALID_JSON
	ErrSDKNotInitialized   Code = 6013 // ERR_SDK_NOT_INITIALIZED
	ErrSDKNotLoggedIn      Code = 6014 // ERR_SDK_NOT_LOGGED_IN
	ErrRequestTimeout      Code = 6012 // ERR_REQUEST_TIMEOUT
	ErrLoginAborted        Code = 6023 // a running Login was ended by Logout or UnInit
	ErrNoPreviousLogin     Code = 6026 // ERR_NO_PREVIOUS_LOGIN
	ErrUserSigExpired      Code = 6206 // ERR_USER_SIG_EXPIRED
	ErrKickedOffByOther    Code = 6208 // ERR_LOGIN_KICKED_OFF_BY_OTHER
	ErrDatabaseFailed      Code = 6019 // ERR_DATABASE_OPERATE_FAILED: local cache error
	ErrInvalidIdentifier   Code = 7003 // ERR_SDK_COMM_INVALID_IDENTIFIER: bad userID
	ErrAPICallFrequency    Code = 7008 // ERR_SDK_COMM_API_CALL_FREQUENCY_LIMIT
	ErrInterruptedByUnInit Code = 7009 // ERR_SDK_COMM_INTERRUPT: UnInit ended the call
	ErrLoginInProcess      Code = 7501 // ERR_SDK_ACCOUNT_LOGIN_IN_PROCESS
	ErrLogoutInProcess     Code = 7502 // ERR_SDK_ACCOUNT_LOGOUT_IN_PROCESS
	ErrNetDisconnected     Code = 9508 // ERR_SDK_NET_DISCONNECT: no connection to the server
	ErrNetWaitAckTimeout   Code = 9520 // ERR_SDK_NET_WAIT_ACK_TIMEOUT: no reply in time
)

// Server account (login) codes.
const (
	ErrSvrUserSigExpired        Code = 70001 // ERR_SVR_ACCOUNT_USERSIG_EXPIRED
	ErrSvrUserSigEmpty          Code = 70002 // ERR_SVR_ACCOUNT_USERSIG_EMPTY
	ErrSvrUserSigCheckFailed    Code = 70003 // ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED: undecodable
	ErrSvrUserSigMismatchKey    Code = 70009 // signature does not verify with the app's key
	ErrSvrUserSigMismatchID     Code = 70013 // ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID
	ErrSvrUserSigMismatchApp    Code = 70014 // ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID
	ErrSvrSDKAppIDNotFound      Code = 70020 // ERR_SVR_ACCOUNT_SDKAPPID_NOT_FOUND
	ErrSvrAccountLocked         Code = 70050 // too many failed logins; retry later
	ErrSvrUserSigRevoked        Code = 70052 // ticket issued before the user was kicked by an admin
	ErrSvrAccountNotFound       Code = 70107 // the UserID was never imported or logged in
	ErrSvrInvalidParameters     Code = 70402 // ERR_SVR_ACCOUNT_INVALID_PARAMETERS
	ErrSvrAdminRequired         Code = 70403 // ERR_SVR_ACCOUNT_ADMIN_REQUIRED
	ErrSvrAccountFrequencyLimit Code = 70398
	ErrSvrInternal              Code = 70500 // ERR_SVR_ACCOUNT_INTERNAL_ERROR
)

// REST API (common) codes.
const (
	ErrRESTHTTPParse       Code = 60002 // HTTP request could not be parsed
	ErrRESTInvalidJSON     Code = 60003 // request body is not valid JSON
	ErrRESTBadParameters   Code = 60004 // URL or body parameter missing or wrong
	ErrRESTBadAdminSig     Code = 60005 // wrong admin identifier/UserSig
	ErrRESTAppDisabled     Code = 60006
	ErrRESTRateLimited     Code = 60007
	ErrRESTTimeout         Code = 60008
	ErrRESTResource        Code = 60009 // unknown service or command
	ErrRESTAdminOnly       Code = 60010 // the identifier is not the app's admin
	ErrRESTAppRateLimited  Code = 60011
	ErrRESTNeedAppAndAdmin Code = 60012 // sdkappid and identifier are required
	ErrRESTBodyTooLarge    Code = 60016 // request body over the limit
)

// Message codes.
const (
	ErrSvrMsgInvalidPacket  Code = 20001 // malformed request
	ErrSvrMsgInvalidAccount Code = 20003 // receiver's UserID invalid or unknown
	ErrSvrMsgTooLong        Code = 80002 // message body over the size limit
)

// Error is an error with one of Tencent's codes and a message for people.
// Compare with errors.As, or errors.Is against another *Error: two Errors are
// the same error when their codes are equal.
type Error struct {
	Code    Code
	Message string
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("imkit: code %d", e.Code)
	}
	return fmt.Sprintf("imkit: code %d: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCode returns the code of the first *Error in err's chain, OK for nil,
// and ErrSvrInternal for any other error.
func ErrorCode(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrSvrInternal
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// err.Error() for other errors, or "" for nil.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

package imkit

import (
	"errors"
	"fmt"
)

// Code is one of Tencent Cloud Chat's numeric error codes. The SDK returns
// them from its calls, the server sends them in replies and close frames, and
// the REST API puts them in ErrorCode. 0 means success.
type Code int

// SDK (client side) codes, as in Tencent's V2TIMErrorCode / TIMErrCode.
const (
	OK Code = 0

	ErrRequestTimeout       Code = 6012 // ERR_REQUEST_TIMEOUT
	ErrSDKNotInitialized    Code = 6013 // ERR_SDK_NOT_INITIALIZED
	ErrSDKNotLoggedIn       Code = 6014 // ERR_SDK_NOT_LOGGED_IN: not logged in, or kicked
	ErrInProgress           Code = 6015 // ERR_IN_PROGESS: the same call is already running
	ErrInvalidMsgElem       Code = 6016 // ERR_INVALID_MSG_ELEM
	ErrInvalidParameters    Code = 6017 // ERR_INVALID_PARAMETERS
	ErrDatabaseFailed       Code = 6019 // ERR_DATABASE_OPERATE_FAILED: local cache error
	ErrIOOperationFailed    Code = 6022 // ERR_IO_OPERATION_FAILED: local disk error
	ErrLoggedOutBeforeLogin Code = 6023 // ERR_LOGGED_OUT_BEFORE_LOGIN_FINISHED: Logout ended a running Login
	ErrNoPreviousLogin      Code = 6026 // ERR_NO_PREVIOUS_LOGIN
	ErrInvalidJSON          Code = 6027 // ERR_INVALID_JSON
	ErrUserSigExpired       Code = 6206 // ERR_USER_SIG_EXPIRED
	ErrKickedOffByOther     Code = 6208 // ERR_LOGIN_KICKED_OFF_BY_OTHER
	ErrInvalidIdentifier    Code = 7003 // ERR_SDK_COMM_INVALID_IDENTIFIER: bad userID
	ErrAPICallFrequency     Code = 7008 // ERR_SDK_COMM_API_CALL_FREQUENCY_LIMIT
	ErrInterrupted          Code = 7009 // ERR_SDK_COMM_INTERRUPT: UnInit ended the call
	ErrLoginInProcess       Code = 7501 // ERR_SDK_ACCOUNT_LOGIN_IN_PROCESS
	ErrLogoutInProcess      Code = 7502 // ERR_SDK_ACCOUNT_LOGOUT_IN_PROCESS
	ErrNetDisconnected      Code = 9508 // ERR_SDK_NET_DISCONNECT: no connection to the server
	ErrNetConnTimeout       Code = 9510 // ERR_SDK_NET_CONN_TIMEOUT
	ErrNetWaitAckTimeout    Code = 9520 // ERR_SDK_NET_WAIT_ACK_TIMEOUT: no reply in time
	ErrNetPkgSizeLimit      Code = 9522 // ERR_SDK_NET_PKG_SIZE_LIMIT: request too large
)

// Server common codes (REST API and every server reply).
const (
	ErrSvrInvalidHTTPURL     Code = 60002 // ERR_SVR_COMM_INVALID_HTTP_URL: HTTP request could not be parsed
	ErrSvrReqJSONParseFailed Code = 60003 // ERR_SVR_COMM_REQ_JSON_PARSE_FAILED
	ErrSvrInvalidAccount     Code = 60004 // ERR_SVR_COMM_INVALID_ACCOUNT: identifier or UserSig in the URL is wrong
	ErrSvrInvalidSDKAppID    Code = 60006 // ERR_SVR_COMM_INVALID_SDKAPPID
	ErrSvrRESTFreqLimit      Code = 60007 // ERR_SVR_COMM_REST_FREQ_LIMIT
	ErrSvrRequestTimeout     Code = 60008 // ERR_SVR_COMM_REQUEST_TIMEOUT
	ErrSvrInvalidRes         Code = 60009 // ERR_SVR_COMM_INVALID_RES: unknown service or command
	ErrSvrIDNotAdmin         Code = 60010 // ERR_SVR_COMM_ID_NOT_ADMIN
	ErrSvrSDKAppIDMiss       Code = 60012 // ERR_SVR_COMM_SDKAPPID_MISS
	ErrSvrInvalidIDFormat    Code = 60015 // ERR_SVR_COMM_INVALID_ID_FORMAT: an account field is not a string
	ErrSvrBodySizeLimit      Code = 80002 // ERR_SVR_COMM_BODY_SIZE_LIMIT: message body over 12 KB
)

// Server account (login) codes.
const (
	ErrSvrUserSigExpired     Code = 70001 // ERR_SVR_ACCOUNT_USERSIG_EXPIRED
	ErrSvrUserSigEmpty       Code = 70002 // ERR_SVR_ACCOUNT_USERSIG_EMPTY
	ErrSvrUserSigCheckFailed Code = 70003 // ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED: undecodable
	ErrSvrUserSigMismatchKey Code = 70009 // ERR_SVR_ACCOUNT_USERSIG_MISMATCH_PUBLICKEY: wrong key
	ErrSvrUserSigMismatchID  Code = 70013 // ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID
	ErrSvrUserSigMismatchApp Code = 70014 // ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID
	ErrSvrSDKAppIDNotFound   Code = 70020 // ERR_SVR_ACCOUNT_SDKAPPID_NOT_FOUND
	ErrSvrAccountFreqLimit   Code = 70050 // ERR_SVR_ACCOUNT_FREQ_LIMIT: too many failed logins; retry later
	ErrSvrInvalidUserSig     Code = 70052 // ERR_SVR_ACCOUNT_INVALID_USERSIG: ticket revoked by an admin kick
	ErrSvrAccountNotFound    Code = 70107 // ERR_SVR_ACCOUNT_NOT_FOUND
	ErrSvrInvalidCount       Code = 70206 // ERR_SVR_ACCOUNT_INVALID_COUNT: too many items in a batch
	ErrSvrInvalidParameters  Code = 70402 // ERR_SVR_ACCOUNT_INVALID_PARAMETERS
	ErrSvrAdminRequired      Code = 70403 // ERR_SVR_ACCOUNT_ADMIN_REQUIRED
	ErrSvrInternal           Code = 70500 // ERR_SVR_ACCOUNT_INTERNAL_ERROR
)

// Message codes.
const (
	ErrSvrMsgPkgParseFailed   Code = 20001 // ERR_SVR_MSG_PKG_PARSE_FAILED: malformed request
	ErrSvrMsgInvalidID        Code = 20003 // ERR_SVR_MSG_INVALID_ID: receiver's UserID invalid
	ErrSvrMsgJSONParseFailed  Code = 90001 // ERR_SVR_MSG_JSON_PARSE_FAILED (REST)
	ErrSvrMsgInvalidBody      Code = 90002 // ERR_SVR_MSG_INVALID_JSON_BODY_FORMAT (REST)
	ErrSvrMsgInvalidToAccount Code = 90003 // ERR_SVR_MSG_INVALID_TO_ACCOUNT (REST)
	ErrSvrMsgInvalidRand      Code = 90005 // ERR_SVR_MSG_INVALID_RAND (REST)
	ErrSvrMsgBodyNotArray     Code = 90007 // ERR_SVR_MSG_BODY_NOT_ARRAY (REST)
	ErrSvrMsgAdminRequired    Code = 90009 // ERR_SVR_MSG_ADMIN_REQUIRED (REST)
	ErrSvrMsgInvalidFormat    Code = 90010 // ERR_SVR_MSG_INVALID_JSON_FORMAT (REST)
	ErrSvrMsgAccountNotFound  Code = 90012 // ERR_SVR_MSG_TO_ACCOUNT_NOT_FOUND (REST)
	ErrSvrMsgTimeLimit        Code = 90026 // ERR_SVR_MSG_TIME_LIMIT: bad MsgLifeTime (REST)
	ErrSvrMsgBodySizeLimit    Code = 93000 // ERR_SVR_MSG_BODY_SIZE_LIMIT: JSON packet too long (REST)
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

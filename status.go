package shardgate

import "net/http"

// KindForStatus is the reverse of Kind.HTTPStatus, for errors that carry
// only an HTTP status (a router's 404, a proxy's 504, an answer without a
// JSON body). Where several kinds share a status, the general one wins:
// 400 is KindInvalid (not KindParse), 404 KindNotFound (not
// KindMethodNotFound), 409 KindConflict (not KindUnknownState). Statuses no
// kind names map by class: another 4xx is the caller's mistake
// (KindInvalid), anything else KindInternal.
func KindForStatus(status int) Kind {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType,
		http.StatusUnprocessableEntity:
		return KindInvalid
	case http.StatusUnauthorized:
		return KindUnauthorized
	case http.StatusForbidden:
		return KindForbidden
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusConflict:
		return KindConflict
	case http.StatusRequestEntityTooLarge:
		return KindTooLarge
	case http.StatusTooManyRequests:
		return KindRateLimited
	case http.StatusInsufficientStorage:
		return KindStorageFull
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// Retryable: a node or the proxy in front of it is unreachable.
		return KindUnavailable
	}
	if status >= 400 && status < 500 {
		return KindInvalid
	}
	return KindInternal
}

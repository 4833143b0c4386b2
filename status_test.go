package shardgate

import (
	"net/http"
	"testing"
)

func TestKindForStatus(t *testing.T) {
	tests := []struct {
		status int
		want   Kind
	}{
		{http.StatusBadRequest, KindInvalid},
		{http.StatusUnauthorized, KindUnauthorized},
		{http.StatusForbidden, KindForbidden},
		{http.StatusNotFound, KindNotFound},
		{http.StatusMethodNotAllowed, KindInvalid},
		{http.StatusConflict, KindConflict},
		{http.StatusRequestEntityTooLarge, KindTooLarge},
		{http.StatusUnsupportedMediaType, KindInvalid},
		{http.StatusTeapot, KindInvalid},
		{http.StatusTooManyRequests, KindRateLimited},
		{http.StatusInternalServerError, KindInternal},
		{http.StatusBadGateway, KindUnavailable},
		{http.StatusServiceUnavailable, KindUnavailable},
		{http.StatusGatewayTimeout, KindUnavailable},
		{http.StatusOK, KindInternal},
	}
	for _, tt := range tests {
		if got := KindForStatus(tt.status); got != tt.want {
			t.Errorf("KindForStatus(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

// TestKindForStatusRoundTrip: every kind's status maps back to that kind,
// or to the general kind sharing its status.
func TestKindForStatusRoundTrip(t *testing.T) {
	general := map[Kind]Kind{KindParse: KindInvalid, KindMethodNotFound: KindNotFound, KindUnknownState: KindConflict}
	for k := range kindInfo {
		want := k
		if g, ok := general[k]; ok {
			want = g
		}
		if got := KindForStatus(k.HTTPStatus()); got != want {
			t.Errorf("%v → %d → %v, want %v", k, k.HTTPStatus(), got, want)
		}
	}
}

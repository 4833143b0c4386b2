package conn

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/shardgate/shardgate"
)

// tokenClaims is the JWT payload. Send is a pointer because an absent send
// claim (any recipient) and an empty one (nobody) mean opposite things.
type tokenClaims struct {
	jwt.RegisteredClaims
	Send      *[]string `json:"send,omitempty"`
	Subscribe []string  `json:"subscribe,omitempty"`
	Publish   []string  `json:"publish,omitempty"`
}

// UnmarshalJSON reads the registered claims and the permission claims. A
// permission claim is a list of patterns, or one pattern as a string (as
// aud may be); anything else is refused with a claimError naming it.
func (tc *tokenClaims) UnmarshalJSON(b []byte) error {
	if err := registeredClaimTypes(b); err != nil {
		return err
	}
	var raw struct {
		jwt.RegisteredClaims
		Send      json.RawMessage `json:"send"`
		Subscribe json.RawMessage `json:"subscribe"`
		Publish   json.RawMessage `json:"publish"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	tc.RegisteredClaims = raw.RegisteredClaims
	var err error
	var send []string
	if send, err = patternClaim("send", raw.Send); err != nil {
		return err
	}
	if send != nil {
		tc.Send = &send
	}
	if tc.Subscribe, err = patternClaim("subscribe", raw.Subscribe); err != nil {
		return err
	}
	tc.Publish, err = patternClaim("publish", raw.Publish)
	return err
}

// patternClaim decodes one permission claim: nil when it is absent or
// null, else its patterns (empty, not nil, for []).
func patternClaim(name string, raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	list := []string{}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, &claimError{name: name}
	}
	return list, nil
}

// claimError is a claim of the wrong JSON type; want says what it must be
// (empty: a permission claim's list of patterns).
type claimError struct{ name, want string }

func (e *claimError) Error() string {
	want := e.want
	if want == "" {
		want = "a list of patterns (strings) or one pattern"
	}
	return fmt.Sprintf("token claim %q must be %s", e.name, want)
}

// registeredClaimTypes refuses a payload whose sub is not a JSON string or
// whose exp, nbf or iat is not a JSON number (RFC 7519). The jwt library
// would call a numeric sub a malformed token, which sends a client
// developer looking at the wrong thing, and would take a time written as
// a string.
func registeredClaimTypes(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return err
	}
	if v, ok := top["sub"]; ok && (len(v) == 0 || v[0] != '"') {
		return &claimError{name: "sub", want: "a string (the key)"}
	}
	if shardgate.HasLoneSurrogate(b) {
		// Decoded, the escape would be U+FFFD: "x\ud800" the key "x\udc00".
		if name := shardgate.LoneSurrogateMember(b); name != "" {
			return &claimError{name: name, want: "valid Unicode, with no \\u escape of half a UTF-16 surrogate pair"}
		}
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := top[name]
		if !ok {
			continue
		}
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return &claimError{name: name, want: "a number (seconds since 1970)"}
		}
		// Past year 9999 a time overflows on its way to a time.Time, and an
		// exp of 2^63 would be called expired.
		if f, err := strconv.ParseFloat(string(v), 64); err != nil || f < -maxClaimSeconds || f > maxClaimSeconds {
			return &claimError{name: name, want: "a time between the years 1 and 9999 (seconds since 1970)"}
		}
	}
	return nil
}

// maxClaimSeconds is 9999-12-31T23:59:59Z in seconds since 1970; the
// earliest time allowed is as far before 1970.
const maxClaimSeconds = 253402300799

// verify checks a client token: HS256 only, exp required and in the future,
// sub a valid key, every pattern well formed.
func (a *Authenticator) verify(token string) (Claims, error) {
	if len(token) > a.maxBytes {
		return Claims{}, unauthorized(fmt.Sprintf("token is %d bytes, the limit is %d", len(token), a.maxBytes))
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(a.now),
	}
	if a.aud != "" {
		opts = append(opts, jwt.WithAudience(a.aud))
	}
	if a.iss != "" {
		opts = append(opts, jwt.WithIssuer(a.iss))
	}
	parser := jwt.NewParser(opts...)
	var tc tokenClaims
	_, err := parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refuses other algorithms; checking the
		// type again keeps the key from ever meeting a non-HMAC verifier.
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return a.secret, nil
	})
	if err != nil {
		return Claims{}, tokenError(err)
	}
	if err := a.checkLifetime(tc.RegisteredClaims); err != nil {
		return Claims{}, err
	}
	if err := shardgate.ValidKey(tc.Subject); err != nil {
		return Claims{}, &shardgate.Error{Kind: shardgate.KindUnauthorized, Message: "token sub is not a valid key: " + shardgate.UserMessage(err), Err: err}
	}
	c := Claims{Key: tc.Subject, Subscribe: tc.Subscribe, Publish: tc.Publish, Expires: tc.ExpiresAt.Time}
	if tc.Send == nil {
		c.SendAny = true
	} else {
		c.Send = *tc.Send
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"send", c.Send}, {"subscribe", c.Subscribe}, {"publish", c.Publish}} {
		if err := validPatterns(l.name, l.list); err != nil {
			return Claims{}, err
		}
	}
	return c, nil
}

// checkLifetime refuses a token that lives longer than MaxTTL, counted
// from now and, when it has one, from its iat.
func (a *Authenticator) checkLifetime(rc jwt.RegisteredClaims) error {
	if a.maxTTL <= 0 || rc.ExpiresAt == nil {
		return nil
	}
	exp := rc.ExpiresAt.Time
	long := exp.Sub(a.now()) > a.maxTTL
	if rc.IssuedAt != nil && exp.Sub(rc.IssuedAt.Time) > a.maxTTL {
		long = true
	}
	if long {
		return unauthorized(fmt.Sprintf("token lives longer than this cluster allows (%s): mint a shorter one", a.maxTTL))
	}
	return nil
}

// tokenError turns a jwt error into one sentence a client developer can act
// on, keeping the cause for logs.
func tokenError(err error) error {
	msg := "token is not valid"
	var ce *claimError
	switch {
	case errors.As(err, &ce):
		msg = ce.Error()
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "token is malformed: expected a signed JWT (header.payload.signature)"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "token has expired: get a new one"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "token has no exp claim: tokens must expire"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "token aud does not name this service"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "token iss is not the issuer this cluster trusts"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "token is not valid yet (nbf is in the future)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "token signature does not verify: it must be signed with HS256 and this cluster's secret"
	}
	return &shardgate.Error{Kind: shardgate.KindUnauthorized, Message: msg, Err: err}
}

// MintToken signs a client token for key, valid for ttl. A nil send list
// leaves the send claim out (any recipient); a non-nil empty one allows no
// recipient. subscribe and publish hold topic patterns; nil allows none.
func MintToken(secret []byte, key string, ttl time.Duration, send, subscribe, publish []string) (string, error) {
	return Mint(secret, TokenSpec{Key: key, TTL: ttl, Send: send, Subscribe: subscribe, Publish: publish})
}

// TokenSpec is what Mint puts in a token. A nil Send leaves the send claim
// out (any recipient); empty Audience and Issuer leave aud and iss out.
type TokenSpec struct {
	Key                      string
	TTL                      time.Duration
	Send, Subscribe, Publish []string
	Audience, Issuer         string
}

// Mint signs a client token as spec says, with iat now.
func Mint(secret []byte, spec TokenSpec) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("mint token: the secret is empty")
	}
	if spec.TTL <= 0 {
		return "", fmt.Errorf("mint token: ttl must be positive, got %v", spec.TTL)
	}
	if err := shardgate.ValidKey(spec.Key); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	for name, list := range map[string][]string{"send": spec.Send, "subscribe": spec.Subscribe, "publish": spec.Publish} {
		if err := validPatterns(name, list); err != nil {
			return "", fmt.Errorf("mint token: %w", err)
		}
	}
	now := time.Now()
	tc := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   spec.Key,
			Issuer:    spec.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(spec.TTL)),
		},
		Subscribe: spec.Subscribe,
		Publish:   spec.Publish,
	}
	if spec.Audience != "" {
		tc.Audience = jwt.ClaimStrings{spec.Audience}
	}
	if spec.Send != nil {
		send := spec.Send
		tc.Send = &send
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}

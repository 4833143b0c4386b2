package conn

import (
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
)

// AuthConfig configures client authentication (docs/PROTOCOL.md).
type AuthConfig struct {
	// Secret is the HS256 key client tokens are signed with. Required unless
	// Insecure is set.
	Secret []byte
	// Insecure lets clients name themselves with ?user=KEY and no token.
	// Development only: anyone can then be anyone.
	Insecure bool
	// MaxTokenBytes refuses longer tokens before any parsing, so a client
	// cannot make the node decode megabytes of base64. Default 4096.
	MaxTokenBytes int
	// Audience and Issuer, when set, must be the token's aud (one of its
	// values) and iss; a token from another service signed with a shared
	// secret is then refused.
	Audience string
	Issuer   string
	// MaxTTL, when positive, refuses tokens whose exp is further than this
	// from now (or from their iat): a leaked long-lived token is useless.
	MaxTTL time.Duration
	// Now is the clock used to check expiry. Default time.Now.
	Now func() time.Time
}

// Authenticator turns an upgrade request into Claims. It is safe for
// concurrent use.
type Authenticator struct {
	secret   []byte
	insecure bool
	maxBytes int
	aud, iss string
	maxTTL   time.Duration
	now      func() time.Time
}

// NewAuthenticator checks cfg and builds an Authenticator.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if len(cfg.Secret) == 0 && !cfg.Insecure {
		return nil, errors.New("an auth secret is required unless insecure mode is on")
	}
	if cfg.MaxTokenBytes < 0 {
		return nil, errors.New("max token bytes must be positive")
	}
	if cfg.MaxTTL < 0 {
		return nil, errors.New("the maximum token lifetime must be positive")
	}
	a := &Authenticator{
		secret:   append([]byte(nil), cfg.Secret...),
		insecure: cfg.Insecure,
		maxBytes: cfg.MaxTokenBytes,
		aud:      cfg.Audience,
		iss:      cfg.Issuer,
		maxTTL:   cfg.MaxTTL,
		now:      cfg.Now,
	}
	if a.maxBytes == 0 {
		a.maxBytes = 4096
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Claims is what a connection may do, taken from its token.
//
// Permission lists hold glob patterns with path.Match semantics: '*' matches
// any run of characters except '/', '?' one character except '/', '[a-z]' a
// class and '\' escapes. So "room/*" allows "room/42" but not "room/42/x";
// list "room/*/*" too for two levels. An empty list allows nothing.
type Claims struct {
	Key       string
	Send      []string // recipient key patterns; see SendAny
	Subscribe []string // topic patterns; absent in the token = none
	Publish   []string // topic patterns; absent in the token = none
	// SendAny is set when the token has no send claim: any recipient.
	SendAny bool
	// AllowAll is set for ?user= identities in insecure mode: every send,
	// subscribe and publish is allowed.
	AllowAll bool
	// Expires is the token's exp; zero for insecure identities.
	Expires time.Time
}

// CanSend reports whether the token allows sending to key to.
func (c Claims) CanSend(to string) bool {
	return c.AllowAll || c.SendAny || matchAny(c.Send, to)
}

// CanSubscribe reports whether the token allows subscribing to topic.
func (c Claims) CanSubscribe(topic string) bool {
	return c.AllowAll || matchAny(c.Subscribe, topic)
}

// CanPublish reports whether the token allows publishing to topic.
func (c Claims) CanPublish(topic string) bool {
	return c.AllowAll || matchAny(c.Publish, topic)
}

// expired reports whether the token has run out at now.
func (c Claims) expired(now time.Time) bool {
	return !c.Expires.IsZero() && !now.Before(c.Expires)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		// Malformed patterns are refused when the token is read, so an
		// error here cannot happen; treating it as "no match" is the safe
		// side anyway.
		if ok, err := path.Match(p, s); ok && err == nil {
			return true
		}
	}
	return false
}

// validPatterns reports the first malformed pattern of a claim.
func validPatterns(claim string, patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return shardgate.Errorf(shardgate.KindUnauthorized, "token %s claim has a malformed pattern %q: %w", claim, p, err)
		}
	}
	return nil
}

// Authenticate reads the credentials of an upgrade request: a bearer token
// in the Authorization header, else the token query parameter (browsers
// cannot set headers), else, in insecure mode, the user query parameter.
// Errors are *shardgate.Error of KindUnauthorized.
func (a *Authenticator) Authenticate(r *http.Request) (Claims, error) {
	token, err := bearer(r)
	if err != nil {
		return Claims{}, err
	}
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	if token != "" {
		if len(a.secret) == 0 {
			return Claims{}, unauthorized("this node verifies no tokens (it has no auth secret); connect with ?user=KEY instead")
		}
		return a.verify(token)
	}
	if a.insecure {
		user := r.URL.Query().Get("user")
		if user == "" {
			return Claims{}, unauthorized("no identity: pass ?user=KEY (insecure mode) or a token")
		}
		if err := shardgate.ValidKey(user); err != nil {
			return Claims{}, &shardgate.Error{Kind: shardgate.KindUnauthorized, Message: "user is not a valid key: " + shardgate.UserMessage(err), Err: err}
		}
		return Claims{Key: user, SendAny: true, AllowAll: true}, nil
	}
	return Claims{}, unauthorized("no token: send it as \"Authorization: Bearer <jwt>\" or in the token query parameter")
}

// bearer extracts the token of an "Authorization: Bearer" header, "" when
// there is no such header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized("the Authorization header must be \"Bearer <jwt>\"")
	}
	return strings.TrimSpace(token), nil
}

func unauthorized(msg string) *shardgate.Error {
	return &shardgate.Error{Kind: shardgate.KindUnauthorized, Message: msg}
}

package cookies

import (
	"fmt"
	"maps"
	"slices"
)

// KeySet is a versioned set of secrets, Tornado's dict-valued cookie_secret
// with its key_version setting. Encode signs with Keys[Current]; Decode
// accepts a value signed with any key in Keys. To rotate, add the new secret
// under a new version, make it Current, and delete the old version once the
// cookies it signed have expired (31 days by default).
//
// A KeySet written as a literal is Tornado's dict, even with one key; only
// SingleKey makes the plain string secret. The difference matters for
// Tornado's version 1 format, which names no key: Tornado reads and writes
// it only with a plain secret, and so does TornadoCodec.
//
// Versions must be non-negative and secrets non-empty. Constructors copy the
// set, so changing it afterwards does not affect a codec.
type KeySet struct {
	Keys    map[int]string
	Current int

	plain bool // made by SingleKey: Tornado's string cookie_secret
}

// SingleKey returns a KeySet holding only secret, as version 0: the
// equivalent of Tornado's plain string cookie_secret, whose v2 values carry
// key version 0.
func SingleKey(secret string) KeySet {
	return KeySet{Keys: map[int]string{0: secret}, Current: 0, plain: true}
}

// validate checks ks and returns a private copy.
func (ks KeySet) validate() (KeySet, error) {
	if len(ks.Keys) == 0 {
		return KeySet{}, fmt.Errorf("%w: key set is empty", ErrConfig)
	}
	for v, secret := range ks.Keys {
		if v < 0 {
			return KeySet{}, fmt.Errorf("%w: key version %d is negative", ErrConfig, v)
		}
		if secret == "" {
			return KeySet{}, fmt.Errorf("%w: key version %d has an empty secret", ErrConfig, v)
		}
	}
	if _, ok := ks.Keys[ks.Current]; !ok {
		return KeySet{}, fmt.Errorf("%w: current key version %d is not in the key set", ErrConfig, ks.Current)
	}
	return KeySet{Keys: maps.Clone(ks.Keys), Current: ks.Current, plain: ks.plain}, nil
}

// decodeOrder lists the versions to try when a value does not name its key:
// Current first (the likeliest), then the others in ascending order.
func (ks KeySet) decodeOrder() []int {
	order := []int{ks.Current}
	for _, v := range slices.Sorted(maps.Keys(ks.Keys)) {
		if v != ks.Current {
			order = append(order, v)
		}
	}
	return order
}

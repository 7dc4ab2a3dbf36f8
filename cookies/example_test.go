package cookies_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tornago/tornago/cookies"
)

// A Tornado application and its tornago port share a cookie: the value
// below is what Tornado's set_secure_cookie("name", "value") writes with
// cookie_secret "secret" at Unix time 1300000000.
func ExampleNewTornadoCodec() {
	codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
		cookies.WithClock(func() time.Time { return time.Unix(1300000000, 0) }))
	if err != nil {
		panic(err)
	}
	signed, _ := codec.Encode("name", []byte("value"))
	fmt.Println(signed)

	value, err := codec.Decode("name", signed, 0)
	fmt.Printf("%s %v\n", value, err)

	_, err = codec.Decode("admin", signed, 0)
	fmt.Println(errors.Is(err, cookies.ErrWrongName))
	// Output:
	// 2|1:0|10:1300000000|4:name|8:dmFsdWU=|dde970934c3dca1ee18c228683b8f88369d856f5b9b7f0fd5eab44aa165210bd
	// value <nil>
	// true
}

func ExampleNewSecureCookieCodec() {
	codec, err := cookies.NewSecureCookieCodec(
		cookies.SingleKey("a long random secret, 32 bytes or more"),
		cookies.WithEncryption())
	if err != nil {
		panic(err)
	}
	signed, _ := codec.Encode("user", []byte("alice"))

	value, err := codec.Decode("user", signed, 0)
	fmt.Printf("%s %v\n", value, err)

	// Values are bound to their cookie name.
	_, err = codec.Decode("admin", signed, 0)
	fmt.Println(errors.Is(err, cookies.ErrInvalidSignature))
	// Output:
	// alice <nil>
	// true
}

// Rotating from secret "old" (version 0) to "new" (version 1): cookies
// signed before the rotation still decode, and KeyVersion says which ones
// to re-issue before version 0 is dropped.
func ExampleKeySet() {
	before, _ := cookies.NewTornadoCodec(cookies.SingleKey("old"))
	oldCookie, _ := before.Encode("session", []byte("42"))

	after, _ := cookies.NewTornadoCodec(cookies.KeySet{
		Keys:    map[int]string{0: "old", 1: "new"},
		Current: 1,
	})
	value, err := after.Decode("session", oldCookie, 0)
	fmt.Printf("%s %v\n", value, err)
	if v, _ := after.KeyVersion(oldCookie); v != 1 {
		fresh, _ := after.Encode("session", value)
		v, _ = after.KeyVersion(fresh)
		fmt.Println("re-issued with key version", v)
	}

	retired, _ := cookies.NewTornadoCodec(cookies.KeySet{Keys: map[int]string{1: "new"}, Current: 1})
	_, err = retired.Decode("session", oldCookie, 0)
	fmt.Println(errors.Is(err, cookies.ErrUnknownKey))
	// Output:
	// 42 <nil>
	// re-issued with key version 1
	// true
}

// Decode's maxAge bounds a cookie's age per call, like get_secure_cookie's
// max_age_days.
func ExampleCodec_maxAge() {
	signedAt := time.Unix(1300000000, 0)
	signer, _ := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
		cookies.WithClock(func() time.Time { return signedAt }))
	signed, _ := signer.Encode("remember", []byte("me"))

	twoHoursLater, _ := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
		cookies.WithClock(func() time.Time { return signedAt.Add(2 * time.Hour) }))
	_, err := twoHoursLater.Decode("remember", signed, time.Hour)
	fmt.Println(errors.Is(err, cookies.ErrExpired))
	value, err := twoHoursLater.Decode("remember", signed, 0) // default: 31 days
	fmt.Printf("%s %v\n", value, err)
	// Output:
	// true
	// me <nil>
}

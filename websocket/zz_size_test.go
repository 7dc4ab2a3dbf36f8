package websocket

import (
	"fmt"
	"reflect"
	"testing"
)

func dumpFields(t reflect.Type, indent string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fmt.Printf("%s%-14s off=%4d size=%4d %s\n", indent, f.Name, f.Offset, f.Type.Size(), f.Type)
		if f.Type.Kind() == reflect.Struct && f.Type.Size() > 32 && indent == "" {
			dumpFields(f.Type, indent+"    ")
		}
	}
}

func TestZZSize(t *testing.T) {
	for _, v := range []any{Conn{}, Session{}} {
		ty := reflect.TypeOf(v)
		fmt.Println(ty, ty.Size())
		dumpFields(ty, "")
	}
}

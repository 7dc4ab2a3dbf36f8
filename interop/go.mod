module github.com/tornago/tornago/interop

go 1.26.0

replace github.com/tornago/tornago => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/gorilla/websocket v1.5.3
	github.com/lxzan/gws v1.8.9
	github.com/stretchr/testify v1.12.1
	github.com/tornago/tornago v0.1.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

// go-server: a small HTTP server (net/http only, no cgo) for minify's samples.
// GET / answers a greeting, GET /healthz answers "ok". It listens on 127.0.0.1:$PORT (default 8081),
// or on $ADDR when set (e.g. ":8081" in a container).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8081"
		}
		addr = "127.0.0.1:" + port
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "hello from go-server (%s, %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	log.Printf("go-server listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}

// chain: the reference libcni (Debian's golang-github-appc-cni-dev) as the one runtime that
// drives both plugin sets in bench/cni.sh. It loads a .conflist, then ROUNDS times adds the
// chain to a namespace and deletes it again, and prints one line per round: "ADD_MS DEL_MS".
// A port mapping (capability portMappings) is passed on every ADD and DEL.
//
//	chain CONFLIST NETNS-PATH CNI_PATH CACHE_DIR ROUNDS HOST_PORT
//
// Built offline by bench/cni.sh: GO111MODULE=off GOPATH=/usr/share/gocode go build.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: chain CONFLIST NETNS-PATH CNI_PATH CACHE_DIR ROUNDS HOST_PORT")
		os.Exit(2)
	}
	list, err := libcni.ConfListFromFile(os.Args[1])
	must(err)
	rounds, err := strconv.Atoi(os.Args[5])
	must(err)
	port, err := strconv.Atoi(os.Args[6])
	must(err)
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(os.Args[3], ":"), os.Args[4], nil)
	ctx := context.Background()
	for i := 0; i < rounds; i++ {
		rt := &libcni.RuntimeConf{
			ContainerID: fmt.Sprintf("bench%d", i),
			NetNS:       os.Args[2],
			IfName:      "eth0",
			CapabilityArgs: map[string]interface{}{
				"portMappings": []map[string]interface{}{{"hostPort": port, "containerPort": 80, "protocol": "tcp"}},
			},
		}
		t0 := time.Now()
		_, err := cni.AddNetworkList(ctx, list, rt)
		must(err)
		t1 := time.Now()
		must(cni.DelNetworkList(ctx, list, rt))
		t2 := time.Now()
		fmt.Printf("%.1f %.1f\n", ms(t1.Sub(t0)), ms(t2.Sub(t1)))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

// chain: the reference libcni (Debian's golang-github-appc-cni-dev) as the one runtime that
// drives both plugin sets in bench/cni.sh. It loads a .conflist, then ROUNDS times adds the
// chain to a namespace and deletes it again, and prints one line per round:
// "ADD_MS DEL_MS ADD_CPU_MS DEL_CPU_MS", the CPU time (user + system) being that of the
// plugins and every process they started (getrusage of the children, who are all waited for):
// the work done, which the host's load moves much less than the elapsed time. The driver is
// a child subreaper: a process a plugin leaves running for a moment after it exits (minid's
// plugins' minid-spawner, which sees its plugin go and then exits) comes back to it and is
// reaped after the elapsed time is taken, so that its CPU time, and that of the commands it
// started, is counted too.
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
	"syscall"
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
	// PR_SET_CHILD_SUBREAPER (36): orphans of the plugins are re-parented here.
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36, 1, 0); e != 0 {
		must(e)
	}
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
		c0, t0 := cpu(), time.Now()
		_, err := cni.AddNetworkList(ctx, list, rt)
		must(err)
		t1 := time.Now()
		reap()
		c1 := cpu()
		must(cni.DelNetworkList(ctx, list, rt))
		t2 := time.Now()
		reap()
		c2 := cpu()
		fmt.Printf("%.1f %.1f %.1f %.1f\n", ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(c1-c0), ms(c2-c1))
	}
}

// reap waits for the orphans re-parented here (libcni has waited for the plugins themselves).
func reap() {
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
			return // ECHILD: none left
		}
	}
}

// cpu: user + system time of the children that have ended (and theirs).
func cpu() time.Duration {
	var ru syscall.Rusage
	must(syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

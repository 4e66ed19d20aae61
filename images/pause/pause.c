/*
 * images/pause/pause.c — the sandbox ("pause") process of a Kubernetes pod.
 *
 * A pod's containers join the namespaces of one long-lived process: the network namespace the
 * CNI plugins configured, the IPC namespace, and (with a shared PID namespace) it is their PID 1.
 * It only has to stay alive, end cleanly on SIGTERM/SIGINT (a PID 1 has no default signal
 * actions: without handlers it would ignore them), and reap zombies, as an init must.
 * Built static (no libc in the image), see recipe.sh.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("minid pause");
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "pause: not running as PID 1\n");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause(); /* sleep until a signal; the handlers do the rest */
}

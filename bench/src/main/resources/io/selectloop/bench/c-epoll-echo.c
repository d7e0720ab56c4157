/*
 * c-epoll: the bench's physical-limit row. One thread, one level-triggered epoll set,
 * non-blocking sockets, echo. It is what the machine can do with the least work a
 * server can do per message: one read(2) and one write(2) per ready connection, no
 * allocation on the echo path (a connection owns a buffer only while the kernel will
 * not take all of what it has to send).
 *
 * Contract (the same as `bench server`): prints "listening on tcp://HOST:PORT" once it
 * listens, serves until SIGINT/SIGTERM or until its standard input reaches its end (a
 * parent that holds a pipe to it and dies takes it along), exits 0.
 *
 *   c-epoll-echo HOST PORT
 *
 * Built at run time by the bench with `cc -O2`; it is not part of the Java build.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define READ_SIZE 65536
#define BACKLOG 1024

/* Bytes a connection still owes its peer: only while the socket buffer is full. */
struct pending {
    char *data;
    size_t off, len;
};

static struct pending *pending; /* indexed by fd */
static int max_fds;
static char buffer[READ_SIZE];

static void die(const char *what) {
    fprintf(stderr, "c-epoll-echo: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void set_events(int ep, int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(pending[fd].data);
    pending[fd].data = NULL;
    pending[fd].off = pending[fd].len = 0;
}

/* Writes what it can; keeps the rest and swaps reading for writability. 0 = keep, -1 = drop. */
static int send_or_keep(int ep, int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t) n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pending *p = &pending[fd];
            if (p->data == NULL) {
                p->data = malloc(READ_SIZE);
                if (p->data == NULL) return -1;
            }
            memcpy(p->data, data, len);
            p->off = 0;
            p->len = len;
            /* Stop reading until it is sent: back-pressure, as every bench impl does. */
            set_events(ep, fd, EPOLLOUT);
            return 0;
        } else {
            return -1;
        }
    }
    return 0;
}

static void on_readable(int ep, int fd) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
        if (send_or_keep(ep, fd, buffer, (size_t) n) < 0) drop(ep, fd);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(ep, fd);
    }
}

static void on_writable(int ep, int fd) {
    struct pending *p = &pending[fd];
    while (p->off < p->len) {
        ssize_t n = write(fd, p->data + p->off, p->len - p->off);
        if (n > 0) {
            p->off += (size_t) n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            drop(ep, fd);
            return;
        }
    }
    free(p->data);
    p->data = NULL;
    p->off = p->len = 0;
    set_events(ep, fd, EPOLLIN | EPOLLRDHUP);
}

static void on_acceptable(int ep, int listener, int *listener_paused) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: stop accepting for a moment instead of spinning. */
                epoll_ctl(ep, EPOLL_CTL_DEL, listener, NULL);
                *listener_paused = 1;
            }
            return;
        }
        if (fd >= max_fds) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) close(fd);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: c-epoll-echo HOST PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    max_fds = (int) sysconf(_SC_OPEN_MAX);
    if (max_fds <= 0 || max_fds > 1 << 20) max_fds = 1 << 20;
    pending = calloc((size_t) max_fds, sizeof *pending);
    if (pending == NULL) die("calloc");

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "c-epoll-echo: not an IPv4 address: %s\n", argv[1]);
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *) &addr, sizeof addr) < 0) die("bind");
    if (listen(listener, BACKLOG) < 0) die("listen");
    socklen_t addr_len = sizeof addr;
    getsockname(listener, (struct sockaddr *) &addr, &addr_len);

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, NULL);
    int signals = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signals < 0) die("signalfd");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    ev.data.fd = signals;
    epoll_ctl(ep, EPOLL_CTL_ADD, signals, &ev);
    /* A pipe or terminal on stdin is watched for its end; /dev/null or a file cannot be
     * polled (epoll_ctl refuses them with EPERM), and is then not watched, as in Java. */
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = STDIN_FILENO;
    int watching_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;

    printf("listening on tcp://%s:%d\n", argv[1], ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    int listener_paused = 0;
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, listener_paused ? 100 : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (n == 0 && listener_paused) {
            ev.events = EPOLLIN;
            ev.data.fd = listener;
            epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
            listener_paused = 0;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            unsigned what = events[i].events;
            if (fd == listener) {
                on_acceptable(ep, listener, &listener_paused);
            } else if (fd == signals) {
                return 0;
            } else if (fd == STDIN_FILENO && watching_stdin) {
                char discard[256];
                if (read(STDIN_FILENO, discard, sizeof discard) <= 0) return 0;
            } else if (what & EPOLLOUT) {
                on_writable(ep, fd);
            } else if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                on_readable(ep, fd);
            }
        }
    }
}

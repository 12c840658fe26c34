/*
 * util.h — what every command shares: the global options, opening the store,
 * errors and exit codes, JSON and table output, dates.
 *
 * Exit codes (sysexits): 0 ok, 64 usage, 65 bad data (bad input, unknown or
 * ambiguous id, unknown field, a store from a newer kith), 66 no store here (run
 * kith init), 69 peer unavailable, 71 out of memory, 73 cannot create (a store
 * already exists), 74 I/O (disk full, read-only), 75 busy, 77 not trusted.
 */
#ifndef KITH_CLI_UTIL_H
#define KITH_CLI_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/json.h"
#include "core/model.h"
#include "core/store.h"

enum {
  EX_OK_ = 0,
  EX_USAGE_ = 64,
  EX_DATAERR_ = 65,
  EX_NOINPUT_ = 66,
  EX_UNAVAILABLE_ = 69,
  EX_OSERR_ = 71,
  EX_CANTCREAT_ = 73,
  EX_IOERR_ = 74,
  EX_TEMPFAIL_ = 75,
  EX_NOPERM_ = 77,
};

struct cli {
  const char *home;
  bool json;
  bool color;
  kith_store *st;
};

struct cli_cmd {
  const char *name;
  int (*run)(struct cli *cli, int argc, char **argv);
  const char *summary;
};

/* The exit code for a kith error code. */
int cli_exit_code(int rc);
/* Prints "kith: " + message + ": " + kith_strerror(rc) (or just the message when
 * rc is 0) on stderr, one line; returns cli_exit_code(rc) (64 when rc is 0). */
int cli_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "kith: " + message on stderr, one line; returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a usage error on one line, pointing at the --help of the command that
 * usage (may be NULL) describes, and returns 64. */
int cli_usage(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens the store at cli->home; on failure prints why and returns the exit code. */
int cli_open(struct cli *cli);
/* Begins a transaction, printing on failure; returns 0 or an exit code. */
int cli_begin(struct cli *cli, bool write, kith_txn **txn);
/* Commits, printing on failure; returns 0 or an exit code. */
int cli_commit(kith_txn *txn);

/* Wall clock in milliseconds. */
uint64_t cli_now_ms(void);
/* Options for kith_store_open: the clock, and KITH_MAP_SIZE if set. */
struct kith_store_opts cli_store_opts(void);

/* Prints a JSON document on stdout, one line, and frees it. Returns 0 or 74. */
int cli_json_print(json_t *doc);

/* Resolves an id prefix of kind, printing a clear error on failure. */
int cli_resolve(kith_txn *txn, int kind, const char *prefix, uint8_t id[16]);
/* For `kith GROUP VERB ID...`, argv[1] the id prefix of a record of kind: opens
 * the store, begins a transaction (*txn, the caller aborts it) and resolves the
 * id, printing why on failure (a usage error if the id is missing or looks like
 * an option: ids are hex). 0 or an exit code. */
int cli_open_record(struct cli *cli, int argc, char **argv, const char *usage, int kind,
                    bool write, kith_txn **txn, uint8_t id[16]);

/* "3 days ago", "in 2 hours", "just now" for a time in ms since the epoch. */
void cli_relative(uint64_t ms, uint64_t now, char *out, size_t n);

/* Display width of UTF-8 text in terminal columns. */
size_t cli_width(const char *s);
/* Prints s padded with spaces to width columns (cut with "…" if longer). */
void cli_pad(FILE *f, const char *s, size_t width);

/* True if argv has -h or --help anywhere before "--". */
bool cli_wants_help(int argc, char **argv);

/* Reads all of a file ("-" is stdin) into a NUL-terminated buffer, up to max
 * bytes. Returns 0 or a kith error (KITH_ETOOBIG, KITH_EIO with errno set). */
int cli_read_file(const char *path, size_t max, char **out, size_t *len);

/* A duration as people type it: digits, then s, m, h or d (none: seconds), in
 * milliseconds; 0 if malformed, 0, or longer than max_ms. */
uint64_t cli_parse_duration_ms(const char *s, uint64_t max_ms);

/* "1.2.3.4:PORT" or "[::1]:PORT" for an IPv4 or IPv6 socket address. */
void cli_addr_text(const struct sockaddr *sa, char *out, size_t n);

/* True if f should get colour and styles: a terminal, NO_COLOR unset or empty
 * (any other value turns colour off: https://no-color.org) and TERM not "dumb". */
bool cli_color(FILE *f);
enum cli_style { CLI_BOLD, CLI_RED, CLI_YELLOW, CLI_DIM };
/* Writes text to f, in style if cli_color(f); plain otherwise. */
void cli_paint(FILE *f, enum cli_style style, const char *text);
/* The same, padded to width columns as cli_pad does (the padding unstyled). */
void cli_paint_pad(FILE *f, enum cli_style style, const char *text, size_t width);

/* Today's local date as a day number (core/cadence.h). The environment variable
 * KITH_TODAY=YYYY-MM-DD stands in for the clock (a test hook: docs/DECISIONS.md).
 * 0, or the exit code after printing why (a malformed KITH_TODAY). */
int cli_today(int32_t *day);
/* A day relative to today: "today", "tomorrow", "yesterday", "in 5 days",
 * "45 days ago". */
void cli_day_relative(int32_t day, int32_t today, char *out, size_t n);

/* A progress line on stderr for long operations, drawn only when stderr is a
 * terminal and redrawn at most every 100 ms:
 *   importing  [#########...............]  45,000/100,000
 * (total 0: unknown, the count alone). The struct is the caller's; start fills it,
 * end erases the line. Nothing here fails. */
struct cli_progress {
  const char *what;
  uint64_t total, done, last_ms;
  size_t drawn; /* columns on screen, to erase */
  bool on;
};
void cli_progress_start(struct cli_progress *p, const char *what, uint64_t total);
void cli_progress_update(struct cli_progress *p, uint64_t done);
void cli_progress_end(struct cli_progress *p);
/* The line as drawn, without "\r": for tests and for callers that log it. */
void cli_progress_text(const struct cli_progress *p, char *out, size_t n);

/* Prints text as a QR code on f, two modules per character cell (half blocks)
 * with the quiet zone scanners need; f NULL only checks that it fits. level is a
 * QRecLevel (QR_ECLEVEL_L..H from <qrencode.h>). Returns 0, KITH_ETOOBIG if text
 * does not fit in a QR code at that level (nothing printed), or KITH_ENOMEM. */
int cli_print_qr(FILE *f, const char *text, int level);

#endif

/* kith note add | list | edit | rm */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "core/cadence.h"
#include "proto/hex.h"

static const char add_usage[] =
    "kith note add CONTACT [TEXT|-] [--date YYYY-MM-DD] [--edit]";
static const char list_usage[] = "kith note list [CONTACT]";
static const char edit_usage[] = "kith note edit NOTE [TEXT]";
static const char rm_usage[] = "kith note rm NOTE";

static int note_help(FILE *f)
{
  fprintf(f,
          "usage: kith note add|list|edit|rm ...\n\n  %s\n  %s\n  %s\n  %s\n\n"
          "Notes record an interaction: met at an event, a call, a coffee. Without\n"
          "TEXT, add reads standard input, or opens your editor on a terminal (see\n"
          "'kith note add --help'); edit reads standard input. Adding a note sets\n"
          "the contact's last_contacted to the note's day.\n",
          add_usage, list_usage, edit_usage, rm_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

/* The note text: the argument, or all of stdin (trailing newlines dropped). */
static int note_text(int argc, char **argv, int at, char **out)
{
  if (argc > at + 1)
    return cli_usage(NULL, "give the note text as one argument (quote it)");
  if (argc == at + 1) {
    if (!(*out = strdup(argv[at])))
      return cli_fail(KITH_ENOMEM, "note");
  } else {
    size_t n;
    if (isatty(STDIN_FILENO))
      fprintf(stderr, "Type the note; end with Ctrl-D.\n");
    int rc = cli_read_file("-", KITH_VALUE_MAX_BYTES, out, &n);
    if (rc)
      return cli_fail(rc, "cannot read the note from standard input");
    while (n && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
      (*out)[--n] = 0;
  }
  if (!**out) {
    free(*out);
    *out = NULL;
    return cli_fail(KITH_EBADMSG, "the note is empty");
  }
  if (!kith_utf8_valid(*out, strlen(*out))) {
    free(*out);
    *out = NULL;
    return cli_fail(KITH_EBADUTF8, "note");
  }
  return 0;
}

static int print_note(struct cli *cli, kith_txn *txn, const uint8_t id[16])
{
  struct kith_record *rec = NULL;
  int rc = kith_record_load(txn, id, &rec);
  if (rc)
    return cli_fail(rc, "cannot read the note");
  if (cli->json) {
    rc = cli_json_print(kith_json_record(txn, rec, 0));
  } else {
    char hex[33];
    kith_hex_encode(id, 16, hex);
    puts(hex);
  }
  kith_record_free(rec);
  return rc;
}

/* Drops the lines that start with '#', then blank space at both ends. In place. */
static void strip_comments(char *s)
{
  char *w = s;
  for (const char *r = s; *r;) {
    size_t n = strcspn(r, "\n");
    bool comment = r[0] == '#';
    if (!comment) {
      memmove(w, r, n);
      w += n;
      if (r[n])
        *w++ = '\n';
    }
    r += n + (r[n] ? 1 : 0);
  }
  *w = 0;
  while (w > s && strchr(" \t\r\n", w[-1]))
    *--w = 0;
  size_t lead = strspn(s, " \t\r\n");
  memmove(s, s + lead, strlen(s + lead) + 1);
}

/* Runs $VISUAL, else $EDITOR, else vi, on a temporary file (0600, in $TMPDIR)
 * holding initial (may be NULL) and a commented template; *out gets what the user
 * wrote, comments dropped. The file is removed whatever happens. 0 or an exit code
 * (65 for an empty note or a failed editor: nothing is written). */
static int edit_text(const char *name, const char *initial, char **out)
{
  const char *dir = getenv("TMPDIR"), *ed = getenv("VISUAL");
  char path[4096], cmd[4096];
  char *text = NULL;
  size_t len;
  int status = 0;
  if (!ed || !*ed)
    ed = getenv("EDITOR");
  if (!ed || !*ed)
    ed = "vi";
  if (!dir || !*dir)
    dir = "/tmp";
  snprintf(path, sizeof path, "%s/kith-note-XXXXXX", dir);
  /* the shell splits "code --wait" as a user would; the file is "$1", unquoted
   * by nobody */
  snprintf(cmd, sizeof cmd, "%s \"$1\"", ed);
  int fd = mkstemp(path); /* 0600 */
  if (fd < 0)
    return cli_fail(KITH_EIO, "cannot create a temporary file in %s", dir);
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    unlink(path);
    return cli_fail(KITH_EIO, "cannot write %s", path);
  }
  fprintf(f,
          "%s\n\n# A note about %s. Lines starting with # are ignored;\n"
          "# an empty note aborts and nothing is written.\n",
          initial ? initial : "", name);
  if (fclose(f) != 0) {
    unlink(path);
    return cli_fail(KITH_EIO, "cannot write %s", path);
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
    _exit(127);
  }
  int rc = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0)
    rc = cli_fail(KITH_EIO, "cannot run the editor '%s'", ed);
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    rc =
        cli_error(EX_DATAERR_, "the editor '%s' failed (exit %d); nothing was written",
                  ed, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  else if ((rc = cli_read_file(path, KITH_VALUE_MAX_BYTES, &text, &len)) != 0)
    rc = cli_fail(rc, "cannot read the note back from %s", path);
  unlink(path);
  if (rc)
    return rc;
  strip_comments(text);
  if (!*text) {
    free(text);
    return cli_error(EX_DATAERR_, "aborted: the note is empty; nothing was written");
  }
  if (!kith_utf8_valid(text, strlen(text))) {
    free(text);
    return cli_fail(KITH_EBADUTF8, "note");
  }
  *out = text;
  return 0;
}

/* After kith_note_create (which dates the contact by the clock's UTC day): the
 * contact's last_contacted becomes the note's local day, unless it was later
 * already. prev is the value from before the note (NULL if none). */
static int date_contact(kith_txn *txn, const uint8_t cid[16], const char *prev,
                        int32_t day)
{
  char text[KITH_DAY_LEN];
  int32_t pd;
  const char *want = text;
  kith_day_format(day, text);
  if (prev && kith_day_parse(prev, &pd) && pd >= day)
    want = prev;
  struct kith_value *v = kith_value_new(1, &want);
  int rc = v ? kith_field_set(txn, cid, kith_field_by_id(KITH_F_LAST_CONTACTED), v)
             : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

static int note_add_help(void)
{
  printf("usage: %s\n\n"
         "Adds a note to a contact and prints the note's id. The text comes from\n"
         "TEXT; from standard input if TEXT is '-' or standard input is not a\n"
         "terminal; else from your editor ($VISUAL, else $EDITOR, else vi), which\n"
         "--edit also opens (on TEXT, if given). In the editor, lines starting with\n"
         "# are ignored, and an empty note aborts (exit 65, nothing written).\n\n"
         "The contact's last_contacted becomes the note's day (today, or --date\n"
         "YYYY-MM-DD for an earlier meeting) unless it is later already.\n\n"
         "examples:\n"
         "  kith note add 3fa2 \"Coffee: she's hiring a data engineer in March\"\n"
         "  kith note add 3fa2 --date 2026-11-25 \"Met at the climate meetup\"\n"
         "  pbpaste | kith note add 3fa2 -\n"
         "  kith note add 3fa2            # opens the editor\n",
         add_usage);
  return 0;
}

static int note_add(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"date", required_argument, NULL, 'd'},
                                       {"edit", no_argument, NULL, 'e'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  kith_txn *txn = NULL;
  struct kith_record *rec = NULL;
  struct kith_reg prev = {0};
  uint8_t cid[16], nid[16];
  char *text = NULL, *name = NULL;
  const char *date = NULL;
  bool edit = false;
  int32_t today, day;
  int c, rc;
  while ((c = getopt_long(argc, argv, "eh", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      date = optarg;
      break;
    case 'e':
      edit = true;
      break;
    case 'h':
      return note_add_help();
    default:
      return cli_usage(add_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  argc -= optind, argv += optind;
  if (argc < 1)
    return cli_usage(add_usage, "missing the contact id");
  if (argc > 2)
    return cli_usage(add_usage, "give the note text as one argument (quote it)");
  if ((rc = cli_today(&today)) != 0)
    return rc;
  day = today;
  if (date && (strlen(date) != 10 || !kith_day_parse(date, &day)))
    return cli_usage(add_usage, "--date '%s' is not a date (YYYY-MM-DD)", date);
  if (day > today)
    return cli_usage(add_usage, "--date %s is in the future", date);
  bool from_stdin =
      argc == 2 ? strcmp(argv[1], "-") == 0 : !edit && !isatty(STDIN_FILENO);
  if (edit && from_stdin)
    return cli_usage(add_usage, "--edit reads from the editor, not from '-'");
  if (from_stdin || (argc == 2 && !edit)) {
    char *one[] = {argv[0], argv[1]};
    if ((rc = note_text(from_stdin ? 1 : 2, one, 1, &text)) != 0)
      return rc;
  }
  if ((rc = cli_open(cli)) != 0)
    goto out;
  if (!text) { /* the editor: check the contact first, and name it in the template */
    if ((rc = cli_begin(cli, false, &txn)) != 0 ||
        (rc = cli_resolve(txn, KITH_KIND_CONTACT, argv[0], cid)) != 0)
      goto out;
    if ((rc = kith_record_load(txn, cid, &rec)) != 0) {
      rc = cli_fail(rc, "cannot read the contact");
      goto out;
    }
    const char *nm = kith_record_text(rec, KITH_F_NAME);
    if (!(name = strdup(nm ? nm : "(no name)"))) {
      rc = cli_fail(KITH_ENOMEM, "note");
      goto out;
    }
    kith_txn_abort(txn);
    txn = NULL;
    if ((rc = edit_text(name, argc == 2 ? argv[1] : NULL, &text)) != 0)
      goto out;
  }
  if ((rc = cli_begin(cli, true, &txn)) != 0 ||
      (rc = cli_resolve(txn, KITH_KIND_CONTACT, argv[0], cid)) != 0)
    goto out;
  int g = kith_txn_get(txn, cid, KITH_F_LAST_CONTACTED, NULL, &prev);
  if (g && g != KITH_ENOTFOUND) {
    rc = cli_fail(g, "cannot read the contact");
    goto out;
  }
  if ((rc = kith_note_create(txn, cid, text, nid)) == 0)
    rc = date_contact(txn, cid, prev.val ? prev.val->p[0] : NULL, day);
  if (rc) {
    rc = cli_fail(rc, "cannot add the note");
    goto out;
  }
  rc = cli_commit(txn);
  txn = NULL;
  if (rc == 0 && (rc = cli_begin(cli, false, &txn)) == 0)
    rc = print_note(cli, txn, nid);
out:
  kith_reg_clear(&prev);
  kith_record_free(rec);
  kith_txn_abort(txn);
  free(text);
  free(name);
  return rc;
}

static int newest_first(const void *a, const void *b)
{
  const struct kith_record *x = *(struct kith_record *const *)a,
                           *y = *(struct kith_record *const *)b;
  return kith_stamp_cmp(&y->created, &x->created);
}

static int note_list(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  struct kith_record_list c = {0};
  uint8_t cid[16];
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nLists notes, newest first: all of them, or a contact's. With "
           "--json:\nan array sorted by id.\n",
           list_usage);
    return 0;
  }
  if (argc > 2)
    return cli_usage(list_usage, "unexpected argument '%s'", argv[2]);
  if (argc == 2 && argv[1][0] == '-')
    return cli_usage(list_usage, "unknown option '%s'", argv[1]);
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, false, &txn);
  if (rc == 0 && argc == 2)
    rc = cli_resolve(txn, KITH_KIND_CONTACT, argv[1], cid);
  if (rc == 0 && (rc = kith_notes_load(txn, argc == 2 ? cid : NULL, &c)) != 0)
    rc = cli_fail(rc, "cannot list notes");
  if (rc)
    goto out;
  if (cli->json) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < c.n; i++)
      json_array_append_new(arr, kith_json_record(txn, c.v[i], 0));
    rc = cli_json_print(arr);
    goto out;
  }
  if (c.n) /* v is NULL when there is no note; qsort must not get NULL */
    qsort(c.v, c.n, sizeof *c.v, newest_first);
  for (size_t i = 0; i < c.n; i++) {
    char nh[33], iso[25], who[64] = "";
    kith_hex_encode(c.v[i]->id, 16, nh);
    nh[8] = 0;
    kith_hlc_iso(c.v[i]->created.hlc, iso);
    iso[10] = 0;
    if (argc < 2) {
      const char *ref = kith_record_text(c.v[i], KITH_F_NOTE_CONTACT);
      uint8_t rid[16];
      struct kith_record *cr = NULL;
      if (ref && kith_hex_decode(ref, rid, 16) == 0 &&
          kith_record_load(txn, rid, &cr) == 0) {
        const char *nm = kith_record_text(cr, KITH_F_NAME);
        snprintf(who, sizeof who, "%s: ", nm ? nm : "?");
      }
      kith_record_free(cr);
    }
    const char *t = kith_record_text(c.v[i], KITH_F_NOTE_TEXT);
    printf("%s  %s  %s%s\n", iso, nh, who, t ? t : "");
  }
  if (c.n == 0)
    fprintf(stderr, "no notes\n");
out:
  kith_record_list_clear(&c);
  kith_txn_abort(txn);
  return rc;
}

static int note_edit(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t nid[16];
  char *text = NULL;
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nReplaces a note's text.\n", edit_usage);
    return 0;
  }
  if (argc < 2)
    return cli_usage(edit_usage, "missing the note id");
  if (argv[1][0] == '-')
    return cli_usage(edit_usage, "unknown option '%s'", argv[1]);
  int rc = note_text(argc, argv, 2, &text);
  if (rc == 0)
    rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, true, &txn);
  if (rc == 0)
    rc = cli_resolve(txn, KITH_KIND_NOTE, argv[1], nid);
  if (rc == 0) {
    struct kith_value *v = kith_value_new(1, (const char *const *)&text);
    rc = v ? kith_field_set(txn, nid, kith_field_by_id(KITH_F_NOTE_TEXT), v)
           : KITH_ENOMEM;
    kith_value_free(v);
    if (rc)
      rc = cli_fail(rc, "cannot edit the note");
  }
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && cli->json && (rc = cli_begin(cli, false, &txn)) == 0)
    rc = print_note(cli, txn, nid);
  kith_txn_abort(txn);
  free(text);
  return rc;
}

static int note_rm(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t nid[16];
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nDeletes a note everywhere it syncs.\n", rm_usage);
    return 0;
  }
  if (argc != 2)
    return cli_usage(rm_usage, argc < 2 ? "missing the note id" : "too many arguments");
  if (argv[1][0] == '-')
    return cli_usage(rm_usage, "unknown option '%s'", argv[1]);
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, true, &txn);
  if (rc == 0)
    rc = cli_resolve(txn, KITH_KIND_NOTE, argv[1], nid);
  if (rc == 0 && (rc = kith_record_delete(txn, nid)) != 0)
    rc = cli_fail(rc, "cannot delete the note");
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && cli->json) {
    char hex[33];
    kith_hex_encode(nid, 16, hex);
    rc = cli_json_print(json_pack("{s:s, s:b}", "id", hex, "deleted", 1));
  }
  kith_txn_abort(txn);
  return rc;
}

int cmd_note(struct cli *cli, int argc, char **argv)
{
  if (argc < 2)
    return note_help(stderr);
  const char *sub = argv[1];
  argc--, argv++;
  if (strcmp(sub, "add") == 0)
    return note_add(cli, argc, argv);
  if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
    return note_list(cli, argc, argv);
  if (strcmp(sub, "edit") == 0)
    return note_edit(cli, argc, argv);
  if (strcmp(sub, "rm") == 0)
    return note_rm(cli, argc, argv);
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
    return note_help(stdout);
  return cli_usage(NULL, "unknown subcommand 'note %s' (see 'kith note --help')", sub);
}

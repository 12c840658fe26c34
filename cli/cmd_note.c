/* kith note add | list | edit | rm */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "proto/hex.h"

static const char add_usage[] = "kith note add CONTACT [TEXT]";
static const char list_usage[] = "kith note list [CONTACT]";
static const char edit_usage[] = "kith note edit NOTE [TEXT]";
static const char rm_usage[] = "kith note rm NOTE";

static int note_help(FILE *f)
{
  fprintf(f,
          "usage: kith note add|list|edit|rm ...\n\n  %s\n  %s\n  %s\n  %s\n\n"
          "Notes record an interaction: met at an event, a call, a coffee. Without\n"
          "TEXT, add and edit read the text from standard input. Adding a note sets\n"
          "the contact's last_contacted to today.\n",
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

static int note_add(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t cid[16], nid[16];
  char *text = NULL;
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nAdds a note to a contact and prints the note's id.\n",
           add_usage);
    return 0;
  }
  if (argc < 2)
    return cli_usage(add_usage, "missing the contact id");
  if (argv[1][0] == '-') /* ids are hex: an option add does not have */
    return cli_usage(add_usage, "unknown option '%s'", argv[1]);
  int rc = note_text(argc, argv, 2, &text);
  if (rc == 0)
    rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, true, &txn);
  if (rc == 0)
    rc = cli_resolve(txn, KITH_KIND_CONTACT, argv[1], cid);
  if (rc == 0 && (rc = kith_note_create(txn, cid, text, nid)) != 0)
    rc = cli_fail(rc, "cannot add the note");
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && (rc = cli_begin(cli, false, &txn)) == 0)
    rc = print_note(cli, txn, nid);
  kith_txn_abort(txn);
  free(text);
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

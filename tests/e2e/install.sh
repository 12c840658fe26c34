#!/usr/bin/env bash
# install.sh — `cmake --install` of the build tree $KITH_BIN lives in, twice:
#   - staged (DESTDIR=$T/stage --prefix /usr): every file lands where README's
#     "Installing" says, and the staging folder is written into none of them;
#   - to a prefix of its own (--prefix $T/root), then used: the installed kith runs,
#     its man page renders without a warning and covers every command of
#     'kith --help', pkg-config gives the flags, a small C program compiles and links
#     against the installed headers and libkith.a and opens a store, the bash
#     completion completes commands, subcommands, --format values and contact ids,
#     the zsh completion parses (and completes, if zsh is installed), and the
#     systemd user unit verifies (if systemd-analyze is installed).
# Needs cmake, pkg-config, groff and a C compiler (the build's own).
. "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$KITH_BIN")
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  skip "KITH_BIN is not in a CMake build folder: nothing to install"
  finish
fi
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" | head -1; }
SRC=${KITH_SOURCE:-$(cache CMAKE_HOME_DIRECTORY)}
LIBDIR=$(cache CMAKE_INSTALL_LIBDIR)
VERSION=$(cache CMAKE_PROJECT_VERSION)
CC_=$(cache CMAKE_C_COMPILER)
[ -n "$LIBDIR" ] || LIBDIR=lib
check_eq "kith $VERSION" "$("$KITH_BIN" --version)" "the build's version"

# ---- staged: DESTDIR=... --prefix /usr -------------------------------------------
expect_ok env DESTDIR="$T/stage" cmake --install "$BUILD" --prefix /usr
ST=$T/stage/usr
for f in bin/kith "$LIBDIR/libkith.a" "$LIBDIR/pkgconfig/kith.pc" \
  share/man/man1/kith.1 share/bash-completion/completions/kith \
  share/zsh/vendor-completions/_kith lib/systemd/user/kith.service; do
  check "installed: /usr/$f" test -f "$ST/$f"
done
check "the installed kith is executable" test -x "$ST/bin/kith"
# every header of core/, proto/ and net/, under include/kith/, as they include
# each other ("core/store.h")
want=$(cd "$SRC" && ls core/*.h proto/*.h net/*.h)
have=$(cd "$ST/include/kith" && ls core/*.h proto/*.h net/*.h)
check_eq "$want" "$have" "the headers installed under include/kith"
check_eq "ExecStart=/usr/bin/kith serve" \
  "$(grep '^ExecStart=' "$ST/lib/systemd/user/kith.service")" "the unit runs the installed kith"
check_eq "prefix=/usr" "$(grep '^prefix=' "$ST/$LIBDIR/pkgconfig/kith.pc")" "kith.pc's prefix"
check_not_contains "$(cat "$ST/$LIBDIR/pkgconfig/kith.pc" "$ST/lib/systemd/user/kith.service")" \
  "$T" "DESTDIR is written into neither kith.pc nor the unit"

# ---- a prefix of its own ---------------------------------------------------------
R=$T/root
expect_ok cmake --install "$BUILD" --prefix "$R"
expect_ok "$R/bin/kith" --version
check_eq "kith $VERSION" "$OUT" "the installed kith runs"
check_eq "ExecStart=$R/bin/kith serve" \
  "$(grep '^ExecStart=' "$R/lib/systemd/user/kith.service")" "--prefix reaches the unit"

# kith --help points at the manual
expect_ok "$R/bin/kith" --help
check_contains "$OUT" "man kith" "kith --help mentions 'man kith'"
# the commands 'kith --help' lists (the lines "  NAME  summary" under "commands:")
COMMANDS=$(printf '%s\n' "$OUT" | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
check_match "^init$" "$COMMANDS" "kith --help lists its commands"

# ---- the man page -------------------------------------------------------------------
MAN=$R/share/man/man1/kith.1
expect_ok groff -man -Tutf8 -ww -z "$MAN"
check_eq "" "$ERR" "groff renders the man page without a warning"
check_contains "$(grep '^\.TH' "$MAN")" "\"kith $VERSION\"" "the man page's version is kith's"
# wide lines, no hyphenation, no bold or underline: text to grep
expect_ok groff -man -Tutf8 -rLL=250n -rHY=0 -P-cbou "$MAN"
PAGE=$OUT
for s in NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" COMMANDS "EXIT STATUS" ENVIRONMENT \
  FILES EXAMPLES "SEE ALSO"; do
  check_match "^$s\$" "$PAGE" "the man page has $s"
done
for c in $COMMANDS followup due tag; do
  check_contains "$PAGE" "kith $c" "the man page describes kith $c"
done
status=$(printf '%s\n' "$PAGE" | sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p')
for code in 0 64 65 66 69 73 74 75 77; do
  check_match "^ +$code +[A-Z]" "$status" "EXIT STATUS explains $code"
done
# every variable kith reads (getenv in cli/) is under ENVIRONMENT
env_sec=$(printf '%s\n' "$PAGE" | sed -n '/^ENVIRONMENT/,/^FILES/p')
# shellcheck disable=SC2013 # names, one a word
for v in $(grep -oh 'getenv("[A-Z_]*")' "$SRC"/cli/*.c | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
  check_contains "$env_sec" "$v" "ENVIRONMENT names $v"
done
if command -v man >/dev/null; then
  expect_ok env MANWIDTH=80 MANPAGER=cat man -l "$MAN"
  check_contains "$OUT" "EXIT STATUS" "man -l renders the page"
else
  skip "man is not installed"
fi

# ---- pkg-config, and a program built against the installed library -----------------
export PKG_CONFIG_PATH=$R/$LIBDIR/pkgconfig
expect_ok pkg-config --modversion kith
check_eq "$VERSION" "$OUT" "pkg-config knows kith's version"
expect_ok pkg-config --cflags kith
check_contains " $OUT " " -I$R/include/kith " "pkg-config --cflags"
expect_ok pkg-config --libs --static kith
LIBS=$OUT
for l in "-L$R/$LIBDIR" -lkith -lcsv -lsodium -llmdb -lmsgpackc -luv -ljansson -lutf8proc; do
  check_contains " $LIBS " " $l " "pkg-config --libs --static has $l"
done

cat >"$T/prog.c" <<'EOF'
/* Opens the store named by argv[1] with the installed libkith. */
#include <stdio.h>

#include "core/store.h"
#include "proto/err.h"

int main(int argc, char **argv)
{
  kith_store *st = NULL;
  int rc = argc > 1 ? kith_store_open(argv[1], NULL, &st) : KITH_EINVAL;
  printf("%s\n", rc ? kith_strerror(rc) : "opened");
  kith_store_close(st);
  return rc ? 1 : 0;
}
EOF
cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror)
# an instrumented libkith.a needs the sanitizers' runtimes at link time
# shellcheck disable=SC2054 # the comma is the flag's own
[ "$(cache KITH_SANITIZE)" = ON ] && cflags+=(-fsanitize=address,undefined)
# shellcheck disable=SC2046 # pkg-config's output is words
expect_ok "${CC_:-cc}" "${cflags[@]}" -o "$T/prog" "$T/prog.c" $(pkg-config --cflags --libs --static kith)
expect_ok "$R/bin/kith" --home "$T/h1" init --name Installed --device test
expect_ok "$T/prog" "$T/h1"
check_eq "opened" "$OUT" "a program linked with the installed libkith opens a store"
mkdir -p "$T/empty"
expect_exit 1 "$T/prog" "$T/empty"
check_eq "no kith store here" "$OUT" "... and says why it cannot (kith_strerror)"
# every installed header compiles on its own with those flags
bad=""
for h in "$R"/include/kith/*/*.h; do
  h=${h#"$R/include/kith/"}
  # shellcheck disable=SC2046
  printf '#include "%s"\n' "$h" |
    "${CC_:-cc}" "${cflags[@]}" -fsyntax-only -x c - $(pkg-config --cflags kith) 2>/dev/null ||
    bad+=" $h"
done
check_eq "" "$bad" "each installed header compiles on its own"

# ---- bash completion ---------------------------------------------------------------
BASHC=$R/share/bash-completion/completions/kith
# comp WORD...: what _kith offers for the last WORD (one a line), with the installed
# kith first on PATH (it lists contact ids)
comp()
{
  PATH="$R/bin:$PATH" bash --norc --noprofile -c '
    source "$1" || exit 1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _kith; printf "%s\n" "${COMPREPLY[@]}"' comp "$BASHC" "$@"
}
nl=$'\n'
check_eq "complete -F _kith kith" \
  "$(bash --norc -c 'source "$1"; complete -p kith' x "$BASHC")" "the file registers _kith"
check_eq "import" "$(comp kith imp)" "kith imp<TAB>"
check_eq "vcard${nl}csv${nl}google${nl}outlook${nl}linkedin${nl}json" \
  "$(comp kith import x.vcf --format '')" "kith import x --format <TAB>"
check_eq "vcard${nl}csv${nl}json" "$(comp kith export --format '')" "kith export --format <TAB>"
check_eq "text${nl}vcard" "$(comp kith card --format '')" "kith card --format <TAB>"
check_eq "add${nl}list${nl}show${nl}set${nl}rm" "$(comp kith --json contact '')" \
  "kith --json contact <TAB>"
check_eq "--home${nl}--json${nl}--help${nl}--version" "$(comp kith --)" "kith --<TAB>"
check_eq "offered${nl}accepted${nl}contacted${nl}met${nl}won${nl}lost${nl}declined" \
  "$(comp kith referral status 9c1e '')" "kith referral status ID <TAB>"
check_eq "--dry-run" "$(comp kith import x.vcf --d)" "kith import x --d<TAB>"
check_eq "follow_up=" "$(comp kith contact set 3fa2 foll)" "kith contact set ID foll<TAB>"
for c in $COMMANDS; do
  check_contains "$nl$(comp kith "${c:0:3}")$nl" "$nl$c$nl" "kith ${c:0:3}<TAB> offers $c"
done
expect_ok "$R/bin/kith" --home "$T/h1" contact add --name "Zoë Keller"
id1=$OUT
expect_ok "$R/bin/kith" --home "$T/h1" contact add --name "Kofi Boateng"
id2=$OUT
ids=$(printf '%s\n' "$id1" "$id2" | sort)
check_eq "$ids" "$(comp kith --home "$T/h1" contact show '' | sort)" \
  "kith --home H contact show <TAB>: the contact ids"
check_eq "$id1" "$(comp kith --home "$T/h1" note add "${id1:0:8}")" \
  "kith note add PREFIX<TAB>: the whole id"
check_eq "" "$(comp kith --home "$T/empty" contact show '')" "no store: no ids, no error"

# ---- zsh completion ----------------------------------------------------------------
ZSHC=$R/share/zsh/vendor-completions/_kith
check_match "^#compdef kith$" "$(head -1 "$ZSHC")" "_kith starts with #compdef kith"
if command -v zsh >/dev/null; then
  expect_ok zsh -n "$ZSHC"
  # What the completion system offers for a line, read off a zsh on a pseudo-tty:
  # compadd is wrapped to print its matches. The keys are typed once the prompt is
  # up (before, the tty is not zle's yet: the kernel would echo them and take ^U
  # itself); zle then handles the TAB before the keys after it, so the output of
  # 'echo END""-OF' (quoted: its echo must not match) marks when it is done.
  cat >"$T/zcomp.zsh" <<'EOF'
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PROMPT='ZR> '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; "'echo SET""UP'
zpty -r z junk '*SETUP*'
zpty -w z 'compadd() { local -a m; builtin compadd -O m "$@"; print -rn -- "<<${(j: :)m}>>" >/dev/tty; builtin compadd "$@"; }; echo DEF""INED'
zpty -r z junk '*DEFINED*ZR> '
zpty -n -w z "$2"$'\t\C-uecho END""-OF\n'
zpty -r z all '*END-OF*'
zpty -d z
print -r -- ${${(M)${(s:>>:)all}:#*<<?*}#*<<}
EOF
  zcomp() { timeout 30 zsh -f "$T/zcomp.zsh" "$(dirname "$ZSHC")" "$1"; }
  check_eq "import" "$(zcomp 'kith imp')" "zsh: kith imp<TAB>"
  check_eq "vcard csv google outlook linkedin json" "$(zcomp 'kith import x.vcf --format ')" \
    "zsh: kith import x --format <TAB>"
  check_eq "offered accepted contacted met won lost declined" \
    "$(zcomp 'kith referral status 9c1e ')" "zsh: kith referral status ID <TAB>"
  check_eq "text vcard" "$(zcomp 'kith card --format ')" "zsh: kith card --format <TAB>"
else
  skip "zsh is not installed: the zsh completion is not checked"
fi

# ---- the systemd user unit ---------------------------------------------------------
UNIT=$R/lib/systemd/user/kith.service
check_eq "WantedBy=default.target" "$(grep '^WantedBy=' "$UNIT")" "the unit starts with the session"
check_eq "Restart=on-failure" "$(grep '^Restart=' "$UNIT")" "the unit restarts on failure"
if command -v systemd-analyze >/dev/null; then
  # --man=no: the man page is not installed system-wide here; XDG_RUNTIME_DIR: a
  # user manager's runtime folder, which a test has none of. Unknown keys are
  # only warned about, so nothing on stderr is the check.
  mkdir -m 0700 "$T/xdg"
  expect_ok env XDG_RUNTIME_DIR="$T/xdg" systemd-analyze --user --man=no verify "$UNIT"
  check_eq "" "$ERR" "systemd-analyze --user verify: no warning"
else
  skip "systemd-analyze is not installed: the unit is not verified"
fi

finish

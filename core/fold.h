/*
 * fold.h — text folding for search and sorting.
 *
 * kith_fold maps text to a form where case, accents and compatibility variants no
 * longer matter ("Zoë" and "ZOE" both fold to "zoe"), using utf8proc's Unicode
 * tables: NFKD, case folding, combining marks stripped.
 */
#ifndef KITH_FOLD_H
#define KITH_FOLD_H

#include "proto/err.h"

/* A malloc'd folded copy of s in *out. KITH_EBADUTF8 or KITH_ENOMEM. */
int kith_fold(const char *s, char **out) KITH_MUST_CHECK;

/* True if the folded needle occurs in the folded haystack; hay may be NULL. */
int kith_fold_contains(const char *hay, const char *folded_needle);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convinfo validate: runs each golden case through the host-pointer API of
 * one backend and device and compares every output tensor with the stored
 * PyTorch result.
 */
#ifndef CONV_TOOLS_VALIDATE_H
#define CONV_TOOLS_VALIDATE_H

#include <stdio.h>

/* An output passes iff max|got - ref| / max(max|ref|, 1e-6) <= this. */
#define VALIDATE_TOLERANCE 1e-4

typedef struct validate_opts {
  const char *backend;    /* NULL: libconv's default */
  const char *device;     /* NULL: libconv's default */
  const char *golden_dir; /* NULL: $CONV_GOLDEN_DIR, install dir, source */
  const char *case_glob;  /* NULL: every case */
  int json;               /* print JSON instead of lines */
  int quiet;              /* print FAIL lines only (no PASS lines, no total) */
} validate_opts;

typedef struct validate_summary {
  int passed, failed;    /* cases: a case passes iff all its tensors pass */
  int setup_failed;      /* no context, no golden dir: nothing ran */
  char note[512];        /* why, if setup_failed */
} validate_summary;

void validate_opts_init(validate_opts *o);

/* Validates one backend/device; prints per o. Returns 0 if every case
 * passed (and at least one ran), 1 otherwise. */
int validate_run(const validate_opts *o, validate_summary *s);

/* `convinfo validate ARGS`; argv[0] is "validate". */
int cmd_validate(int argc, char **argv);

#endif /* CONV_TOOLS_VALIDATE_H */

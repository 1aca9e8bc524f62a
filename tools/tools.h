/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of convinfo: the suite parser (suite.c), JSON output helpers
 * and the bench command (bench.c). convinfo uses only the public API
 * (conv.h); nothing here reaches into the library.
 */
#ifndef CONV_TOOLS_H
#define CONV_TOOLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conv.h"

/* Exit statuses of every convinfo command. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* ------------------------------------------------------------ suites */

typedef struct suite_layer {
  char name[128];
  conv_desc desc;
  int line; /* line of the suite file it came from */
} suite_layer;

/* Parses one line of a suite file. On success returns 0 and sets *is_layer
 * to 1 if the line held a layer (0 for a blank or comment line). On error
 * returns -1 with a message (without the line number) in err. */
int suite_parse_line(const char *line, suite_layer *out, int *is_layer,
                     char *err, size_t errlen);

/* Reads a whole suite file; every layer is checked with conv_output_size.
 * Returns 0, or -1 with "FILE:LINE: message" in err. *layers is malloc'd. */
int suite_load(const char *path, suite_layer **layers, size_t *count,
               char *err, size_t errlen);

/* Resolves a suite argument: an existing file as given; else a bare name
 * (with or without ".suite") in the installed suites folder, then in the
 * source tree's. Returns buf, or NULL if nothing was found. */
const char *suite_find(const char *arg, char *buf, size_t len);

/* The canonical one-line description of a layer's problem
 * ("n=8 c_in=64 ... bias=1"), the same as bench_torch.py prints. */
void suite_describe(const conv_desc *d, char *buf, size_t len);

/* Name of a padding mode as suite files spell it ("zeros", "reflect"...). */
const char *suite_padding_mode_name(conv_padding_mode mode);

/* ------------------------------------------------------------- output */

/* Writes s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);

/* 2 * N * C_out * H_out * W_out * (C_in / groups) * kH * kW. */
double conv_pass_flops(const conv_desc *d, int64_t h_out, int64_t w_out);

/* ------------------------------------------------------------- notes */

struct option;
/* After getopt_long returned '?': names the unknown option, or the known
 * one that lacks its argument. */
void note_option_error(const char *cmd, char **argv,
                       const struct option *longopts);
/* The CPU threads a context's plans run with, and in how a line saying
 * why; 0 (and a "-" line) for a backend without a thread count. */
int context_threads(conv_context *ctx, char *how, size_t len);

/* ------------------------------------------------------------ commands */

int cmd_bench(int argc, char **argv);
/* convinfo tune (bench with $CONV_TUNE=1) and convinfo cache (cache.c). */
int cmd_tune(int argc, char **argv);
int cmd_cache(int argc, char **argv);
void bench_usage(FILE *f);

#endif /* CONV_TOOLS_H */

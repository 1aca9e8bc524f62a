/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: one line of a benchmark suite file (tools/suite.c),
 * in both of its forms (key=value and benchdnn's mb..ic..). A line either
 * parses (and a layer it yields passes conv_output_size, as suite_load
 * requires) or fails with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *line = malloc(size + 1);
  if (line == NULL) return 0;
  memcpy(line, data, size);
  line[size] = '\0';
  suite_layer layer;
  int is_layer = -1;
  char err[1024] = "";
  if (suite_parse_line(line, &layer, &is_layer, err, sizeof err) == 0) {
    if (is_layer != 0 && is_layer != 1) abort();
    if (is_layer) {
      if (memchr(layer.name, '\0', sizeof layer.name) == NULL) abort();
      int64_t h, w;
      (void)conv_output_size(&layer.desc, &h, &w, NULL);
      char buf[512];
      suite_describe(&layer.desc, buf, sizeof buf);
    }
  } else if (err[0] == '\0') {
    abort();
  }
  free(line);
  return 0;
}

/*
 * gate: a tiny gatekeeper. Reads requests as JSON lines on stdin (the request JSON of
 * `mandate authorize`), prints one line per request: `allow JSON`, `deny JSON` (JSON being the
 * decision of `mandate authorize --format json`) or `error MESSAGE`.
 *
 * Build (docs/c.md):
 *   gcc gate.c $(pkg-config --cflags --libs mandate) -o gate
 * Run:
 *   ./gate policies/agent-platform < requests.jsonl
 */
#include <mandate.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s POLICY_DIR (with policies/, schema.cedarschema, entities.json)\n", argv[0]);
        return 2;
    }
    char policies[4096], schema[4096], entities[4096];
    snprintf(policies, sizeof policies, "%s/policies", argv[1]);
    snprintf(schema, sizeof schema, "%s/schema.cedarschema", argv[1]);
    snprintf(entities, sizeof entities, "%s/entities.json", argv[1]);

    mandate_engine *engine = NULL;
    mandate_error *err = NULL;
    if (mandate_engine_new_from_dir(policies, schema, entities, NULL, &engine, &err) != MANDATE_OK) {
        fprintf(stderr, "%s\n", mandate_error_message(err));
        mandate_error_free(err);
        return 1;
    }

    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') continue;
        char *decision = NULL;
        if (mandate_authorize_json(engine, line, &decision, &err) == MANDATE_OK) {
            int allowed = strstr(decision, "\"decision\":\"allow\"") != NULL;
            printf("%s %s\n", allowed ? "allow" : "deny", decision);
            mandate_string_free(decision);
        } else {
            /* The message may span lines (rendered diagnostics): print its first line. */
            const char *message = mandate_error_message(err);
            printf("error %.*s\n", (int)strcspn(message, "\n"), message);
            mandate_error_free(err);
            err = NULL;
        }
        fflush(stdout);
    }
    mandate_engine_free(engine);
    return 0;
}

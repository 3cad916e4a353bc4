/*
 * The C API from C: every function, every error status the platform example can produce,
 * ownership (every returned string, error and decision freed; double frees of decisions are
 * harmless), handle misuse (double free and use after free of engines, errors and strings,
 * garbage handles: detected and reported, RELIABILITY R24), NULL pointers and non-UTF-8 input,
 * a poisoned handle, max-depth policies and deep contexts on a 256 KiB-stack thread, and
 * concurrency (8 threads deciding while another reloads the policies and suspends and resumes an
 * agent; an engine freed while 4 threads decide on it).
 *
 * Usage: test PLATFORM_DIR [ITERATIONS]
 *   PLATFORM_DIR  policies/agent-platform (policies/, schema.cedarschema, entities.json)
 *   ITERATIONS    authorize calls per thread (default 10000; run-tests.sh lowers it under
 *                 valgrind)
 * Exit status 0 when every check passes.
 */
#include "mandate.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* Checks a status; on a mismatch prints the error message. Frees the error either way. */
#define CHECK_STATUS(call, expected)                                                          \
    do {                                                                                      \
        mandate_status got_ = (call);                                                         \
        if (got_ != (expected)) {                                                             \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d: %s\n", __FILE__, __LINE__,   \
                    #call, (int)got_, (int)(expected),                                        \
                    mandate_last_error_message() ? mandate_last_error_message() : "(none)"); \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

#define TRIAGE "Platform::Agent::\"triage-bot\""
#define HELPER "Platform::Agent::\"helper-bot\""
#define INVOKE "Platform::Action::\"InvokeTool\""
#define SEARCH "Platform::Tool::\"ticket-search\""
#define REFUND "Platform::Tool::\"refund-issuer\""
#define PROD "{\"env\": \"prod\", \"cost_cents\": 10, \"approved\": false, \"now\": \"2026-11-26T10:00:00Z\"}"
#define STAGING \
    "{\"env\": \"staging\", \"cost_cents\": 10, \"approved\": false, \"now\": \"2026-11-26T10:00:00Z\"}"

static char policies[4096], schema[4096], entities[4096];
static long iterations = 10000;

static mandate_engine *new_engine(void) {
    mandate_options options;
    memset(&options, 0, sizeof options);
    mandate_engine *engine = NULL;
    mandate_error *err = NULL;
    mandate_status s = mandate_engine_new_from_dir(policies, schema, entities, &options, &engine, &err);
    if (s != MANDATE_OK) {
        fprintf(stderr, "cannot build the engine (%d): %s\n", (int)s, mandate_error_message(err));
        mandate_error_free(err);
        exit(1);
    }
    CHECK(err == NULL);
    CHECK(engine != NULL);
    return engine;
}

static mandate_request request(const char *principal, const char *resource, const char *context) {
    mandate_request r;
    memset(&r, 0, sizeof r);
    r.principal = principal;
    r.action = INVOKE;
    r.resource = resource;
    r.context_json = context;
    return r;
}

static void test_version(void) {
    const char *v = mandate_version();
    CHECK(v != NULL && strlen(v) > 0);
    CHECK(strchr(v, '.') != NULL);
}

static void test_authorize(mandate_engine *engine) {
    /* Fast path: allow. */
    mandate_request r = request(TRIAGE, SEARCH, PROD);
    mandate_decision d;
    mandate_error *err = NULL;
    CHECK(mandate_authorize(engine, &r, &d, &err) == MANDATE_OK);
    CHECK(err == NULL);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);
    CHECK(d.layer == MANDATE_LAYER_QUOTA); /* prod tool calls are metered */
    CHECK(d.reasons_len == 1 && strcmp(d.reasons[0], "support-agents-use-support-tools") == 0);
    CHECK(d.id != NULL && strlen(d.id) == 32);
    CHECK(d.policy_version != NULL && strncmp(d.policy_version, "sha256:", 7) == 0);
    CHECK(d.denied_principal == NULL);
    CHECK(d.errors_json == NULL);
    mandate_decision_free(&d);
    CHECK(d.id == NULL && d.reasons == NULL && d.decision == MANDATE_DECISION_DENY);
    mandate_decision_free(&d); /* a second free is harmless */

    /* Fast path: deny by a forbid. */
    r = request(TRIAGE, REFUND, PROD);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_DENY);
    CHECK(d.layer == MANDATE_LAYER_POLICY);
    CHECK(d.reasons_len == 1 &&
          strcmp(d.reasons[0], "no-high-risk-tools-in-prod-for-low-trust-agents") == 0);
    mandate_decision_free(&d);

    /* Delegation chain: bob (engineering) may not use support tools. */
    const char *chain[] = {"Platform::Human::\"bob\""};
    r = request(TRIAGE, SEARCH, STAGING);
    r.on_behalf_of = chain;
    r.on_behalf_of_len = 1;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_DENY);
    CHECK(d.layer == MANDATE_LAYER_DELEGATION);
    CHECK(d.denied_principal != NULL && strcmp(d.denied_principal, "Platform::Human::\"bob\"") == 0);
    mandate_decision_free(&d);

    /* Dry run. */
    r = request(TRIAGE, SEARCH, PROD);
    r.flags = MANDATE_AUTHORIZE_DRY_RUN;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);
    mandate_decision_free(&d);

    /* JSON path: the same decisions, in the JSON of `mandate authorize --format json`. */
    char *json = NULL;
    const char *allow_req =
        "{\"principal\": {\"type\": \"Platform::Agent\", \"id\": \"triage-bot\"},"
        " \"action\": {\"type\": \"Platform::Action\", \"id\": \"InvokeTool\"},"
        " \"resource\": {\"type\": \"Platform::Tool\", \"id\": \"ticket-search\"}, \"context\": " PROD "}";
    CHECK(mandate_authorize_json(engine, allow_req, &json, &err) == MANDATE_OK);
    CHECK(err == NULL);
    CHECK(json != NULL && strstr(json, "\"decision\":\"allow\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"reasons\":[\"support-agents-use-support-tools\"]") != NULL);
    CHECK(json != NULL && strstr(json, "\"policy_version\":\"sha256:") != NULL);
    mandate_string_free(json);
    json = NULL;
    const char *deny_req =
        "{\"principal\": {\"type\": \"Platform::Agent\", \"id\": \"triage-bot\"},"
        " \"action\": {\"type\": \"Platform::Action\", \"id\": \"InvokeTool\"},"
        " \"resource\": {\"type\": \"Platform::Tool\", \"id\": \"refund-issuer\"}, \"context\": " PROD "}";
    CHECK(mandate_authorize_json_flags(engine, deny_req, MANDATE_AUTHORIZE_DRY_RUN, &json, NULL) == MANDATE_OK);
    CHECK(json != NULL && strstr(json, "\"decision\":\"deny\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"dry_run\":true") != NULL);
    mandate_string_free(json);

    char *version = NULL;
    CHECK(mandate_engine_policy_version(engine, &version, NULL) == MANDATE_OK);
    CHECK(version != NULL && strncmp(version, "sha256:", 7) == 0);
    mandate_string_free(version);
}

static void test_lifecycle(mandate_engine *engine) {
    mandate_error *err = NULL;
    const char *spec =
        "{\"agent\": \"Platform::Agent::\\\"triage-bot\\\"\", \"owner\": \"Platform::Human::\\\"alice\\\"\","
        " \"parents\": [\"Platform::Team::\\\"support\\\"\"], \"attributes\": {\"model\": \"small\", "
        "\"trust_level\": 2}}";
    CHECK_STATUS(mandate_agent_register_json(engine, spec, "ops", "onboarding", &err), MANDATE_OK);
    CHECK(err == NULL);

    mandate_request r = request(TRIAGE, SEARCH, STAGING);
    mandate_decision d;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);
    mandate_decision_free(&d);

    CHECK_STATUS(mandate_agent_suspend(engine, TRIAGE, "ops", "runaway loop", NULL), MANDATE_OK);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_DENY);
    CHECK(d.layer == MANDATE_LAYER_LIFECYCLE);
    CHECK(d.reasons_len == 1 && strcmp(d.reasons[0], "lifecycle:suspended") == 0);
    CHECK(d.denied_principal != NULL && strcmp(d.denied_principal, TRIAGE) == 0);
    mandate_decision_free(&d);

    /* Suspending twice: an illegal transition. */
    CHECK(mandate_agent_suspend(engine, TRIAGE, NULL, NULL, &err) == MANDATE_ERR_AGENT);
    CHECK(err != NULL && mandate_error_code(err) == MANDATE_ERR_AGENT);
    CHECK(err != NULL && strlen(mandate_error_message(err)) > 0);
    mandate_error_free(err);
    err = NULL;

    CHECK_STATUS(mandate_agent_resume(engine, TRIAGE, "ops", "fixed", NULL), MANDATE_OK);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);
    mandate_decision_free(&d);

    /* A plain registration (attributes only), then revocation. */
    CHECK_STATUS(mandate_agent_register(engine, "Platform::Agent::\"temp-bot\"", "Platform::Human::\"bob\"",
                                        "{\"model\": \"large\", \"trust_level\": 1}", NULL, NULL, NULL),
                 MANDATE_OK);
    CHECK_STATUS(mandate_agent_revoke(engine, "Platform::Agent::\"temp-bot\"", "ops", "offboarded", NULL),
                 MANDATE_OK);
    CHECK(mandate_agent_register(engine, "Platform::Agent::\"temp-bot\"", "Platform::Human::\"bob\"", NULL,
                                 NULL, NULL, NULL) == MANDATE_ERR_AGENT);
    char *agent = NULL;
    CHECK_STATUS(mandate_agent_get_json(engine, "Platform::Agent::\"temp-bot\"", &agent, NULL), MANDATE_OK);
    CHECK(agent != NULL && strstr(agent, "\"revoke\"") != NULL);
    mandate_string_free(agent);
    agent = NULL;
    CHECK_STATUS(mandate_agent_get_json(engine, "Platform::Agent::\"never\"", &agent, NULL), MANDATE_OK);
    CHECK(agent != NULL && strcmp(agent, "null") == 0);
    mandate_string_free(agent);
    /* An agent that does not fit the schema (no trust_level). */
    CHECK(mandate_agent_register(engine, "Platform::Agent::\"odd\"", "Platform::Human::\"bob\"",
                                 "{\"model\": \"x\"}", NULL, NULL, NULL) == MANDATE_ERR_AGENT);
}

static void test_versions_and_quotas(void) {
    mandate_error *err = NULL;
    mandate_engine *engine = NULL;
    const char *text =
        "@id(\"all\") permit(principal, action, resource);\n"
        "@id(\"budget\") quota (principal, action, resource) limit 100 per 1h by principal cost context.cost;\n";
    CHECK_STATUS(mandate_engine_new_from_strings(text, NULL, NULL, NULL, &engine, &err), MANDATE_OK);
    if (engine == NULL) return;
    /* Only one version: nothing to roll back to. */
    CHECK(mandate_rollback(engine, &err) == MANDATE_ERR_POLICY);
    mandate_error_free(err);
    err = NULL;
    CHECK_STATUS(mandate_reload(engine, NULL), MANDATE_OK);
    CHECK_STATUS(mandate_rollback(engine, NULL), MANDATE_OK);

    mandate_request r;
    memset(&r, 0, sizeof r);
    r.principal = "User::\"a\"";
    r.action = "Action::\"spend\"";
    r.resource = "Thing::\"x\"";
    r.context_json = "{\"cost\": 60}";
    r.flags = MANDATE_AUTHORIZE_RESERVE;
    mandate_decision d;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);
    CHECK_STATUS(mandate_settle(engine, d.id, 10, NULL), MANDATE_OK);
    CHECK(mandate_settle(engine, d.id, 10, NULL) == MANDATE_ERR_STORE); /* already settled */
    mandate_decision_free(&d);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);
    CHECK_STATUS(mandate_refund(engine, d.id, NULL), MANDATE_OK);
    mandate_decision_free(&d);
    r.context_json = "{\"cost\": 91}";
    r.flags = 0;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_DENY);
    CHECK(d.layer == MANDATE_LAYER_QUOTA);
    CHECK(d.reasons_len == 1 && strcmp(d.reasons[0], "budget") == 0);
    mandate_decision_free(&d);
    CHECK(mandate_refund(engine, "no-such-reservation", NULL) == MANDATE_ERR_STORE);
    mandate_engine_free(engine);
}

static void test_check_and_lint(const char *platform) {
    char bad[4096];
    snprintf(bad, sizeof bad, "%s/bad", platform);
    const char *paths[] = {policies};
    char *json = NULL;
    CHECK_STATUS(mandate_check_json(paths, 1, schema, &json, NULL), MANDATE_OK);
    CHECK(json != NULL && strcmp(json, "[]") == 0);
    mandate_string_free(json);
    json = NULL;
    const char *bad_paths[] = {bad};
    CHECK_STATUS(mandate_lint_json(bad_paths, 1, schema, NULL, &json, NULL), MANDATE_OK);
    CHECK(json != NULL && strstr(json, "\"code\"") != NULL);
    mandate_string_free(json);
    json = NULL;
    const char *missing[] = {"/nonexistent/mandate"};
    CHECK(mandate_check_json(missing, 1, NULL, &json, NULL) == MANDATE_ERR_IO);
    CHECK(json == NULL);
    CHECK(mandate_lint_json(paths, 1, NULL, "not = [valid", &json, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
}

static void test_errors(mandate_engine *engine) {
    mandate_error *err = NULL;
    mandate_engine *other = (mandate_engine *)1; /* must be reset to NULL */
    char *json = (char *)1;

    /* NULL arguments. */
    CHECK(mandate_engine_new_from_dir(NULL, NULL, NULL, NULL, &other, &err) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(other == NULL);
    CHECK(mandate_error_code(err) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mandate_error_message(err), "policy_dir is NULL") != NULL);
    CHECK(mandate_error_diagnostics_json(err) == NULL);
    mandate_error_free(err);
    err = NULL;
    CHECK(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, NULL, NULL, NULL) ==
          MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_authorize_json(NULL, "{}", &json, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(json == NULL);
    CHECK(mandate_last_error_message() != NULL && strstr(mandate_last_error_message(), "engine is NULL"));
    CHECK(mandate_authorize_json(engine, NULL, &json, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_authorize_json(engine, "{}", NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    mandate_decision d;
    CHECK(mandate_authorize(engine, NULL, &d, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    mandate_decision_free(&d); /* reset by the failed call: safe to free */
    mandate_request r = request(TRIAGE, SEARCH, NULL);
    CHECK(mandate_authorize(engine, &r, NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    r.on_behalf_of_len = 2; /* NULL array with a length */
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_agent_suspend(engine, NULL, NULL, NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_agent_register(engine, TRIAGE, NULL, NULL, NULL, NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_settle(engine, NULL, 1, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_reload(NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_rollback(NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_check_json(NULL, 0, NULL, &json, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    mandate_string_free(NULL);
    mandate_error_free(NULL);
    mandate_decision_free(NULL);
    mandate_engine_free(NULL);
    CHECK(mandate_error_message(NULL) == NULL);
    CHECK(mandate_error_code(NULL) == MANDATE_OK);

    /* Invalid UTF-8. */
    const char bad_utf8[] = {'{', (char)0xff, (char)0xfe, '}', 0};
    CHECK(mandate_authorize_json(engine, bad_utf8, &json, &err) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mandate_error_message(err), "not valid UTF-8") != NULL);
    mandate_error_free(err);
    err = NULL;
    const char bad_uid[] = {'A', ':', ':', '"', (char)0xc3, '"', 0};
    r = request(bad_uid, SEARCH, NULL);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_INVALID_ARGUMENT);

    /* Malformed values. */
    r = request("triage-bot", SEARCH, NULL);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    r = request(TRIAGE, SEARCH, "{not json");
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_REQUEST);
    r = request(TRIAGE, SEARCH, "{\"env\": 3}"); /* the schema wants a string */
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_REQUEST);
    r = request(TRIAGE, SEARCH, PROD);
    r.flags = 0x100;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_authorize_json(engine, "{bad json", &json, &err) == MANDATE_ERR_REQUEST);
    CHECK(mandate_error_diagnostics_json(err) != NULL && strstr(mandate_error_diagnostics_json(err), "MD0060"));
    mandate_error_free(err);
    err = NULL;

    /* Policy errors carry diagnostics. */
    CHECK(mandate_engine_new_from_strings("permit(principal, action resource);", NULL, NULL, NULL, &other, &err) ==
          MANDATE_ERR_POLICY);
    CHECK(other == NULL);
    CHECK(mandate_error_diagnostics_json(err) != NULL && strstr(mandate_error_diagnostics_json(err), "\"code\""));
    mandate_error_free(err);
    err = NULL;

    /* Options out of range, unknown quota store, unwritable audit log. */
    mandate_options options;
    memset(&options, 0, sizeof options);
    options.error_mode = 42;
    CHECK(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, &options, &other, NULL) ==
          MANDATE_ERR_INVALID_ARGUMENT);
    memset(&options, 0, sizeof options);
    options.error_mode = MANDATE_ERROR_MODE_CEDAR;
    options.quota_store = "ftp://nowhere";
    CHECK(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, &options, &other, NULL) ==
          MANDATE_ERR_INVALID_ARGUMENT);
    memset(&options, 0, sizeof options);
    options.audit_file = "/proc/mandate-cannot-write-here/audit.jsonl";
    CHECK(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, &options, &other, NULL) ==
          MANDATE_ERR_AUDIT);
    CHECK(other == NULL);
}

static void test_poison(void) {
    mandate_engine *engine = new_engine();
    mandate_error *err = NULL;
    CHECK(mandate_engine_is_poisoned(engine) == 0);
    CHECK(mandate_testing_panic(engine, &err) == MANDATE_ERR_PANIC);
    CHECK(err != NULL && strstr(mandate_error_message(err), "deliberate panic") != NULL);
    mandate_error_free(err);
    CHECK(mandate_engine_is_poisoned(engine) == 1);
    mandate_request r = request(TRIAGE, SEARCH, PROD);
    mandate_decision d;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_POISONED);
    CHECK(d.decision == MANDATE_DECISION_DENY);
    mandate_decision_free(&d);
    CHECK(mandate_reload(engine, NULL) == MANDATE_ERR_POISONED);
    mandate_engine_free(engine); /* a poisoned handle is still freed normally */
}

/* options.limits_json: a request at max_request_bytes - 1 and at the limit is decided, one byte
 * more is MANDATE_ERR_REQUEST with a diagnostic naming the limit and the observed value. */
static void test_limits(void) {
    const char *base = "{\"principal\": \"User::\\\"u\\\"\", \"action\": \"Action::\\\"read\\\"\", "
                       "\"resource\": \"Doc::\\\"d\\\"\", \"context\": {}}";
    size_t limit = strlen(base) + 1;
    char limits_json[64];
    snprintf(limits_json, sizeof limits_json, "{\"max_request_bytes\": %zu}", limit);
    mandate_options options;
    memset(&options, 0, sizeof options);
    options.limits_json = limits_json;
    mandate_engine *engine = NULL;
    CHECK_STATUS(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, &options,
                                                 &engine, NULL),
                 MANDATE_OK);
    char text[256];
    for (size_t len = limit - 1; len <= limit + 1; len++) {
        snprintf(text, sizeof text, "%s%*s", base, (int)(len - strlen(base)), "");
        CHECK(strlen(text) == len);
        char *decision = NULL;
        mandate_error *err = NULL;
        enum mandate_status s = mandate_authorize_json(engine, text, &decision, &err);
        if (len <= limit) {
            CHECK(s == MANDATE_OK);
            mandate_string_free(decision);
        } else {
            char expected[96];
            snprintf(expected, sizeof expected, "%zu is more than the limit `max_request_bytes` = %zu", len, limit);
            CHECK(s == MANDATE_ERR_REQUEST);
            CHECK(err != NULL && (strstr(mandate_error_message(err), expected) != NULL ||
                                  strstr(mandate_error_diagnostics_json(err), expected) != NULL));
            mandate_error_free(err);
        }
    }
    mandate_engine_free(engine);
    memset(&options, 0, sizeof options);
    options.limits_json = "{\"max_nothing\": 1}";
    mandate_engine *other = NULL;
    CHECK(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, &options, &other, NULL) ==
          MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(other == NULL);
}

/* R24: double free and use after free of handles are detected, never undefined behaviour. */
static void test_handles(void) {
    mandate_error *err = NULL;
    mandate_engine *engine = NULL;
    CHECK_STATUS(mandate_engine_new_from_strings("@id(\"all\") permit(principal, action, resource);", NULL, NULL,
                                                 NULL, &engine, NULL),
                 MANDATE_OK);
    mandate_request r;
    memset(&r, 0, sizeof r);
    r.principal = "User::\"a\"";
    r.action = "Action::\"b\"";
    r.resource = "Thing::\"c\"";
    mandate_decision d;
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_OK);
    CHECK(d.decision == MANDATE_DECISION_ALLOW);

    /* A string of a decision is not a mandate_string_free string: refused, still readable. */
    mandate_string_free(d.id);
    CHECK(strstr(mandate_last_error_message(), "not a live string") != NULL);
    CHECK(strlen(d.id) == 32);
    mandate_decision_free(&d);

    /* Strings: double free and a pointer that is not the library's. */
    char *version = NULL;
    CHECK_STATUS(mandate_engine_policy_version(engine, &version, NULL), MANDATE_OK);
    mandate_string_free(version);
    mandate_string_free(version); /* double free: detected, nothing freed */
    CHECK(strstr(mandate_last_error_message(), "mandate_string_free:") != NULL);
    char mine[] = "mine";
    mandate_string_free(mine);
    CHECK(strstr(mandate_last_error_message(), "nothing was freed") != NULL);
    CHECK(strcmp(mine, "mine") == 0);

    /* Errors: use after free and double free. */
    char *json = NULL;
    CHECK(mandate_authorize_json(engine, "{", &json, &err) == MANDATE_ERR_REQUEST);
    CHECK(mandate_error_code(err) == MANDATE_ERR_REQUEST);
    mandate_error_free(err);
    CHECK(mandate_error_code(err) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_error_message(err) == NULL);
    CHECK(mandate_error_diagnostics_json(err) == NULL);
    mandate_error_free(err);
    CHECK(strstr(mandate_last_error_message(), "mandate_error_free:") != NULL);
    /* An engine passed as an error, an error passed as an engine. */
    CHECK(mandate_error_code((mandate_error *)engine) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_reload((mandate_engine *)err, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    err = NULL;

    /* Engines: use after free and double free. */
    mandate_engine_free(engine);
    CHECK(mandate_authorize(engine, &r, &d, &err) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(d.decision == MANDATE_DECISION_DENY && d.id == NULL);
    CHECK(err != NULL && strstr(mandate_error_message(err), "is not live") != NULL);
    mandate_error_free(err);
    err = NULL;
    CHECK(mandate_authorize_json(engine, "{}", &json, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(json == NULL);
    CHECK(mandate_agent_suspend(engine, TRIAGE, NULL, NULL, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_engine_is_poisoned(engine) == -1);
    mandate_engine_free(engine); /* double free: detected, nothing freed */
    CHECK(strstr(mandate_last_error_message(), "mandate_engine_free:") != NULL);
    /* A garbage handle. */
    CHECK(mandate_reload((mandate_engine *)(uintptr_t)0xdeadbee0, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    mandate_engine_free((mandate_engine *)(uintptr_t)0xdeadbee0);
    /* A new engine does not revive the freed handle. */
    mandate_engine *again = NULL;
    CHECK_STATUS(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, NULL, &again,
                                                 NULL),
                 MANDATE_OK);
    CHECK(again != engine);
    CHECK(mandate_authorize(engine, &r, &d, NULL) == MANDATE_ERR_INVALID_ARGUMENT);
    CHECK(mandate_authorize(again, &r, &d, NULL) == MANDATE_OK);
    mandate_decision_free(&d);
    mandate_engine_free(again);
}

/* An engine freed while other threads decide on it: their running calls finish, later calls
 * are refused (MANDATE_ERR_INVALID_ARGUMENT), nothing is used after free. */
typedef struct {
    mandate_engine *engine;
    volatile int *started;
    pthread_mutex_t *lock;
    long ok, refused, other;
} racer;

static void *race(void *arg) {
    racer *w = arg;
    mandate_request r;
    memset(&r, 0, sizeof r);
    r.principal = "User::\"a\"";
    r.action = "Action::\"b\"";
    r.resource = "Thing::\"c\"";
    while (w->refused < 100) {
        mandate_decision d;
        mandate_status s = mandate_authorize(w->engine, &r, &d, NULL);
        if (s == MANDATE_OK && d.decision == MANDATE_DECISION_ALLOW) {
            if (w->ok++ == 0) {
                pthread_mutex_lock(w->lock);
                (*w->started)++;
                pthread_mutex_unlock(w->lock);
            }
        } else if (s == MANDATE_ERR_INVALID_ARGUMENT && d.decision == MANDATE_DECISION_DENY) {
            w->refused++;
        } else {
            w->other++;
            break;
        }
        mandate_decision_free(&d);
    }
    return NULL;
}

static void test_free_while_deciding(void) {
    mandate_engine *engine = NULL;
    CHECK_STATUS(mandate_engine_new_from_strings("permit(principal, action, resource);", NULL, NULL, NULL, &engine,
                                                 NULL),
                 MANDATE_OK);
    enum { N = 4 };
    pthread_t threads[N];
    racer racers[N];
    volatile int started = 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    for (int i = 0; i < N; i++) {
        racers[i] = (racer){engine, &started, &lock, 0, 0, 0};
        CHECK(pthread_create(&threads[i], NULL, race, &racers[i]) == 0);
    }
    for (;;) {
        pthread_mutex_lock(&lock);
        int n = started;
        pthread_mutex_unlock(&lock);
        if (n == N) break;
        sched_yield();
    }
    mandate_engine_free(engine);
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK(racers[i].ok >= 1);
        CHECK(racers[i].refused == 100);
        CHECK(racers[i].other == 0);
    }
}

/* R24: a host thread with a 256 KiB stack (as a worker pool might give us) builds an engine from
 * max-depth policies (the parser's nesting limit is 128), decides requests with a context nested
 * near the context depth limit (64), and frees the engine: no stack overflow, no abort. */
enum { SMALL_STACK = 256 * 1024, LEVELS = 127 };

static char *repeat_around(const char *open, const char *middle, const char *close, int n) {
    size_t size = strlen(open) * (size_t)n + strlen(middle) + strlen(close) * (size_t)n + 1;
    char *out = malloc(size);
    if (out == NULL) return NULL;
    out[0] = 0;
    for (int i = 0; i < n; i++) strcat(out, open);
    strcat(out, middle);
    for (int i = 0; i < n; i++) strcat(out, close);
    return out;
}

typedef struct {
    int failures;
    long allowed, denied;
} deep_result;

static void *deep_work(void *arg) {
    deep_result *res = arg;
    /* Each form at the nesting limit: 127 levels of one construct inside `when { ... }`. */
    struct {
        const char *open, *middle, *close;
        int levels;
    } forms[] = {
        {"if false then false else ", "true", "", LEVELS},
        {"(", "true", ")", LEVELS},
        {"!(", "true", ")", LEVELS / 2 - 1}, /* `!(` adds two levels; an odd count of `!` is false */
        {"[", "true", "]", LEVELS},           /* a set is not a boolean: an erroring permit */
        {"{a: ", "true", "}", LEVELS},
        {"context.a.contains(", "true", ")", LEVELS / 2},
    };
    size_t nforms = sizeof forms / sizeof forms[0];
    char *context = repeat_around("{\"a\": ", "[true]", "}", 60); /* under the context depth limit (64) */
    for (size_t f = 0; f < nforms; f++) {
        char *body = repeat_around(forms[f].open, forms[f].middle, forms[f].close, forms[f].levels);
        size_t size = strlen(body) + 128;
        char *text = malloc(size);
        if (body == NULL || text == NULL || context == NULL) {
            res->failures++;
            free(body);
            free(text);
            continue;
        }
        snprintf(text, size, "@id(\"deep\") permit(principal, action, resource) when { %s };", body);
        mandate_engine *engine = NULL;
        mandate_error *err = NULL;
        mandate_status s = mandate_engine_new_from_strings(text, NULL, NULL, NULL, &engine, &err);
        if (s != MANDATE_OK) {
            fprintf(stderr, "deep form %zu: engine not built (%d): %s\n", f, (int)s, mandate_error_message(err));
            mandate_error_free(err);
            res->failures++;
        } else {
            mandate_request r;
            memset(&r, 0, sizeof r);
            r.principal = "User::\"a\"";
            r.action = "Action::\"b\"";
            r.resource = "Thing::\"c\"";
            r.context_json = context;
            mandate_decision d;
            s = mandate_authorize(engine, &r, &d, NULL);
            if (s != MANDATE_OK) {
                fprintf(stderr, "deep form %zu: authorize failed (%d): %s\n", f, (int)s, mandate_last_error_message());
                res->failures++;
            } else if (d.decision == MANDATE_DECISION_ALLOW) {
                res->allowed++;
            } else {
                res->denied++;
            }
            mandate_decision_free(&d);
            char *json = NULL;
            const char *req_json = "{\"principal\": \"User::\\\"a\\\"\", \"action\": \"Action::\\\"b\\\"\","
                                   " \"resource\": \"Thing::\\\"c\\\"\", \"context\": {}}";
            if (mandate_authorize_json(engine, req_json, &json, NULL) != MANDATE_OK) res->failures++;
            mandate_string_free(json);
            mandate_engine_free(engine);
        }
        free(body);
        free(text);
    }
    /* One level past the limit: refused with a diagnostic (MD0009), not a crash. */
    char *body = repeat_around("(", "true", ")", 200);
    size_t size = body ? strlen(body) + 128 : 0;
    char *text = body ? malloc(size) : NULL;
    if (text != NULL) {
        snprintf(text, size, "permit(principal, action, resource) when { %s };", body);
        mandate_engine *engine = NULL;
        mandate_error *err = NULL;
        if (mandate_engine_new_from_strings(text, NULL, NULL, NULL, &engine, &err) != MANDATE_ERR_POLICY ||
            mandate_error_diagnostics_json(err) == NULL || strstr(mandate_error_diagnostics_json(err), "MD0009") == NULL) {
            res->failures++;
        }
        mandate_error_free(err);
        mandate_engine_free(engine);
    } else {
        res->failures++;
    }
    free(body);
    free(text);
    free(context);
    return NULL;
}

static void test_small_stack(void) {
    pthread_attr_t attr;
    pthread_t thread;
    deep_result res = {0, 0, 0};
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, SMALL_STACK) == 0);
    CHECK(pthread_create(&thread, &attr, deep_work, &res) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    pthread_attr_destroy(&attr);
    CHECK(res.failures == 0);
    CHECK(res.allowed >= 2); /* the if chain and the parentheses at least */
    CHECK(res.allowed + res.denied == 6);
}

/* ---- concurrency ---- */

typedef struct {
    mandate_engine *engine;
    long allowed, helper_seen, errors;
} worker;

static volatile int stop_mutator = 0;

static void *decide(void *arg) {
    worker *w = arg;
    mandate_request r = request(TRIAGE, SEARCH, STAGING);
    mandate_request h = request(HELPER, SEARCH, STAGING);
    for (long i = 0; i < iterations; i++) {
        mandate_decision d;
        if (mandate_authorize(w->engine, &r, &d, NULL) != MANDATE_OK) {
            w->errors++;
        } else if (d.decision == MANDATE_DECISION_ALLOW) {
            w->allowed++;
        }
        mandate_decision_free(&d);
        if (i % 16 == 0) {
            /* The helper is being suspended and resumed: either answer is fine, never an error. */
            if (mandate_authorize(w->engine, &h, &d, NULL) != MANDATE_OK) w->errors++;
            w->helper_seen++;
            mandate_decision_free(&d);
        }
    }
    return NULL;
}

typedef struct {
    mandate_engine *engine;
    long rounds, bad;
} mutator;

static void *mutate(void *arg) {
    mutator *m = arg;
    mandate_request h = request(HELPER, SEARCH, STAGING);
    while (!stop_mutator) {
        if (mandate_reload(m->engine, NULL) != MANDATE_OK) m->bad++;
        if (mandate_agent_suspend(m->engine, HELPER, "ops", "test", NULL) != MANDATE_OK) m->bad++;
        mandate_decision d;
        /* Once suspend returned, no decision allows the agent. */
        if (mandate_authorize(m->engine, &h, &d, NULL) != MANDATE_OK || d.decision != MANDATE_DECISION_DENY) m->bad++;
        mandate_decision_free(&d);
        if (mandate_agent_resume(m->engine, HELPER, "ops", "test", NULL) != MANDATE_OK) m->bad++;
        m->rounds++;
    }
    return NULL;
}

static void test_threads(void) {
    mandate_engine *engine = new_engine();
    const char *spec =
        "{\"agent\": \"Platform::Agent::\\\"helper-bot\\\"\", \"owner\": \"Platform::Human::\\\"alice\\\"\","
        " \"parents\": [\"Platform::Team::\\\"support\\\"\"], \"attributes\": {\"model\": \"small\", "
        "\"trust_level\": 2}}";
    CHECK_STATUS(mandate_agent_register_json(engine, spec, "ops", NULL, NULL), MANDATE_OK);
    enum { N = 8 };
    pthread_t threads[N], mut;
    worker workers[N];
    mutator m = {engine, 0, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    stop_mutator = 0;
    CHECK(pthread_create(&mut, NULL, mutate, &m) == 0);
    for (int i = 0; i < N; i++) {
        workers[i] = (worker){engine, 0, 0, 0};
        CHECK(pthread_create(&threads[i], NULL, decide, &workers[i]) == 0);
    }
    long allowed = 0, errors = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        allowed += workers[i].allowed;
        errors += workers[i].errors;
    }
    stop_mutator = 1;
    pthread_join(mut, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(errors == 0);
    CHECK(allowed == N * iterations);
    CHECK(m.bad == 0);
    CHECK(m.rounds > 0);
    printf("threads: %d x %ld decisions in %.2f s (%.0f decisions/s), %ld reload/suspend/resume rounds meanwhile\n",
           N, iterations, secs, (double)(N * iterations) / secs, m.rounds);
    mandate_engine_free(engine);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLATFORM_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    snprintf(policies, sizeof policies, "%s/policies", argv[1]);
    snprintf(schema, sizeof schema, "%s/schema.cedarschema", argv[1]);
    snprintf(entities, sizeof entities, "%s/entities.json", argv[1]);
    if (argc > 2) iterations = atol(argv[2]);

    test_version();
    mandate_engine *engine = new_engine();
    test_authorize(engine);
    test_errors(engine);
    test_lifecycle(engine);
    mandate_engine_free(engine);
    test_versions_and_quotas();
    test_check_and_lint(argv[1]);
    test_poison();
    test_handles();
    test_limits();
    test_free_while_deciding();
    test_small_stack();
    test_threads();

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C API checks passed (mandate %s)\n", mandate_version());
    return 0;
}

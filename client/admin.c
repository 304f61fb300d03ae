/*
 * admin.c - the store commands an operator (or a data-protection officer)
 * runs against a protected store: init, import, consent, member export /
 * forget, audit verify, notice, pseudonym. Each one opens the vault, does
 * one audited change or read, and reports in one line what happened or what
 * was wrong. Exit codes: 0 done, 1 refused or failed, 2 bad usage.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "client.h"
#include "notice.h"
#include "profile.h"
#include "state.h"
#include "vault.h"

#define PROG "fedrec-client"

/* After a change that failed with e: " (write FILE: reason)" when writing
 * one of the store's files is what failed, else "". */
static const char *
write_detail(fr_err e)
{
    static char buf[4200];
    const char *w = fr_file_last_write_error();

    if (e != FR_ESYS || !*w)
        return "";
    snprintf(buf, sizeof buf, " (%s)", w);
    return buf;
}

static int
say(int code, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, a ? a : "", b ? b : "");
    fputc('\n', stderr);
    return code;
}

fr_err
client_member_policy(const client_config *cfg, vault_member_policy *out,
                     const char **why)
{
    static char msg[160];

    if (canon_policy_from_config(cfg->member_id_trim, cfg->member_id_case,
                                 cfg->member_id_numeric,
                                 cfg->member_id_leading_zeros, out, msg,
                                 sizeof msg)) {
        *why = msg;
        return FR_EINVAL;
    }
    return FR_OK;
}

/* Opens the store's vault with the store's member-id policy; an error
 * after saying why (the command then exits with 1). */
static fr_err
open_vault(const client_config *cfg, vault **v)
{
    char err[1024] = "";
    vault_unlock u = {.passphrase = getenv("FEDREC_PASSPHRASE")};
    vault_member_policy mp;
    const char *why = "";
    fr_err rc = client_member_policy(cfg, &mp, &why);

    if (rc) {
        (void)say(1, "%s%s", why, NULL);
        return rc;
    }
    rc = vault_open(cfg->store, &u, v, err, sizeof err);
    if (rc)
        (void)say(1, "%s%s", err, NULL);
    else
        vault_set_member_policy(*v, &mp);
    return rc;
}

static int
cmd_init(const client_config *cfg, const admin_args *a)
{
    char err[1024] = "";
    vault_init_opts o = {.name = a->name,
                         .connect = cfg->connect,
                         .server_key = cfg->server_key,
                         .n_items = cfg->n_items,
                         .retention_days = cfg->retention_days,
                         .passphrase = getenv("FEDREC_PASSPHRASE"),
                         .policy = &vault_policy_recommended};

    if (vault_init(cfg->store, &o, stdout, err, sizeof err))
        return say(1, "%s%s", err, NULL);
    fprintf(stderr, PROG ": store %s created in %s (%s); the line above "
            "goes on the aggregator's allow-list\n", a->name, cfg->store,
            o.passphrase ? "data key from the passphrase"
                         : "data key in data.key");
    return 0;
}

static int
cmd_import(const client_config *cfg, const admin_args *a)
{
    vault *v = NULL;
    fr_catalogue *cat = NULL;
    vault_import_report r;
    vault_import_opts o = {.profile = *cfg->profile ? cfg->profile : NULL,
                           .n_items = (uint32_t)cfg->n_items,
                           .now_s = (int64_t)time(NULL),
                           .dry_run = a->dry_run != 0};
    char err[4096] = "";
    int status = 0;
    fr_err e;

    if (!a->file)
        return say(2, "import needs a file: import FILE.csv%s%s", NULL, NULL);
    if (client_catalogue_load(cfg, &cat, err, sizeof err))
        return say(1, "catalogue: %s%s", err, NULL);
    o.catalogue = cat;
    if (open_vault(cfg, &v)) {
        fr_catalogue_destroy(&cat);
        return 1;
    }
    e = vault_import(v, a->file, &o, &r, stdout, err, sizeof err);
    if (e && *err)
        status = say(1, "import refused, nothing changed:\n%s%s", err, NULL);
    else if (e) /* the file was fine: storing it failed */
        status = say(1, "import failed: %s%s", fr_strerror(e),
                     write_detail(e));
    else
        vault_import_report_print(&r, stdout);
    vault_close(&v);
    fr_catalogue_destroy(&cat);
    return status;
}

/* FR_EINVAL unless s names a purpose (the caller says so). */
static fr_err
purpose_of(const char *s, vault_purpose *p)
{
    if (s && !strcmp(s, "training"))
        *p = VAULT_TRAINING;
    else if (s && !strcmp(s, "marketing"))
        *p = VAULT_MARKETING;
    else
        return FR_EINVAL;
    return FR_OK;
}

static int
cmd_consent(const client_config *cfg, const char *sub, const admin_args *a)
{
    vault *v = NULL;
    vault_purpose p;
    char err[1024] = "";
    size_t n = 0;
    int grant;
    fr_err e;

    if (!sub)
        return say(2, "consent needs grant, withdraw or import%s%s", NULL,
                   NULL);
    if (!strcmp(sub, "import")) {
        if (!a->file)
            return say(2, "consent import needs a file%s%s", NULL, NULL);
        if (open_vault(cfg, &v))
            return 1;
        e = vault_consent_import(v, a->file, (int64_t)time(NULL), &n, err,
                                 sizeof err);
        vault_close(&v);
        if (e)
            return say(1, "consent import refused, nothing changed: %s%s",
                       err, NULL);
        printf("%zu consent changes recorded\n", n);
        return 0;
    }
    grant = !strcmp(sub, "grant");
    if (!grant && strcmp(sub, "withdraw"))
        return say(2, "consent %s: expected grant, withdraw or import", sub,
                   NULL);
    if (!a->member || !*a->member || purpose_of(a->purpose, &p))
        return say(2, "consent %s needs --member ID --purpose "
                   "training|marketing", sub, NULL);
    if (open_vault(cfg, &v))
        return 1;
    e = vault_consent_set(v, a->member, p, grant, (int64_t)time(NULL));
    vault_close(&v);
    if (e == FR_ESTATE)
        return say(1, "this member was erased at their request; consent is "
                   "not recorded%s%s", NULL, NULL);
    if (e)
        return say(1, "consent not recorded: %s%s", fr_strerror(e),
                   write_detail(e));
    printf("consent to %s %s (takes effect from the next round)\n",
           a->purpose, grant ? "granted" : "withdrawn");
    return 0;
}

/* Whether the member has an embedding: they do if they are in the training
 * data the saved embeddings belong to. An error if the store's state cannot
 * be read (cstate_open has logged why). */
static fr_err
has_embedding(const client_config *cfg, const char *raw, bool *has)
{
    cstate *cs = NULL;
    char key[STORE_MEMBER_ID_MAX];
    uint32_t idx;
    fr_err rc = cstate_open(cfg, &cs);

    if (rc)
        return rc;
    cstate_member_key(cs, raw, key);
    *has = store_data_member(cstate_data(cs), key, &idx) == FR_OK;
    cstate_close(&cs);
    return FR_OK;
}

static int
cmd_member(const client_config *cfg, const char *sub, const admin_args *a)
{
    vault *v = NULL;
    fr_err e;
    bool has = false;
    int emb; /* -1: unknown */

    if (!sub || (strcmp(sub, "export") && strcmp(sub, "forget")))
        return say(2, "member needs export or forget%s%s", NULL, NULL);
    if (!a->member || !*a->member)
        return say(2, "member %s needs --member ID", sub, NULL);
    if (!strcmp(sub, "export")) {
        emb = has_embedding(cfg, a->member, &has) ? -1 : has;
        if (open_vault(cfg, &v))
            return 1;
        e = vault_export_member(v, a->member, emb, stdout);
    } else {
        if (open_vault(cfg, &v))
            return 1;
        e = vault_forget(v, a->member, (int64_t)time(NULL));
        if (!e)
            printf("member erased: interactions, consents and embeddings "
                   "removed; later imports will skip them\n");
    }
    vault_close(&v);
    if (e == FR_ENOENT)
        return say(1, "this store holds nothing about that member%s%s",
                   NULL, NULL);
    if (e == FR_ESTATE)
        return say(1, "that member was already erased%s%s", NULL, NULL);
    if (e) {
        char why[4400];
        snprintf(why, sizeof why, "%s%s", fr_strerror(e), write_detail(e));
        return say(1, "member %s failed: %s", sub, why);
    }
    return 0;
}

static int
cmd_audit(const client_config *cfg, const char *sub)
{
    vault *v = NULL;
    char err[1024] = "";
    uint64_t n = 0;

    if (!sub || strcmp(sub, "verify"))
        return say(2, "audit needs verify%s%s", NULL, NULL);
    if (open_vault(cfg, &v))
        return 1;
    if (vault_audit_verify(v, &n, err, sizeof err)) {
        vault_close(&v);
        return say(1, "audit trail NOT intact: %s%s", err, NULL);
    }
    vault_close(&v);
    printf("audit trail intact: %llu entries, hash chain and signatures "
           "verified\n", (unsigned long long)n);
    return 0;
}

static int
cmd_notice(const client_config *cfg, const admin_args *a)
{
    vault *v = NULL;
    notice_info ni = {0};
    int rc;

    if (open_vault(cfg, &v))
        return 1;
    ni.store_name = vault_name(v);
    ni.aggregator = cfg->connect;
    ni.retention_days = cfg->retention_days;
    ni.secure_aggregation = 1;
    ni.differential_privacy = 0;
    rc = notice_write(stdout, &ni, a->lang ? a->lang : "en") ? 2 : 0;
    vault_close(&v);
    if (rc)
        return say(2, "--lang: %s is not available (en, zh-TW)", a->lang,
                   NULL);
    return 0;
}

static int
cmd_pseudonym(const client_config *cfg, const admin_args *a)
{
    vault *v = NULL;
    char pid[VAULT_PID_CHARS + 1];

    if (!a->member || !*a->member)
        return say(2, "pseudonym needs --member ID%s%s", NULL, NULL);
    if (open_vault(cfg, &v))
        return 1;
    vault_pseudonym(v, a->member, pid);
    printf("%s\n", pid);
    vault_close(&v);
    return 0;
}

int
client_print_profile(const char *name_or_file)
{
    import_profile *p = NULL;
    char err[512] = "";
    fr_err rc = import_profile_load(name_or_file, &p, err, sizeof err);

    if (rc == FR_ENOENT)
        return say(1, "unknown profile '%s' (built in: fedrec, "
                   "online-retail; or a profile file)%s", name_or_file, NULL);
    if (rc)
        return say(1, "%s%s", err, NULL);
    import_profile_print(p, stdout);
    import_profile_destroy(&p);
    return 0;
}

int
client_admin(const client_config *cfg, const char *cmd, const char *sub,
             const admin_args *a)
{
    if (!strcmp(cmd, "init"))
        return cmd_init(cfg, a);
    if (!strcmp(cmd, "import"))
        return cmd_import(cfg, a);
    if (!strcmp(cmd, "consent"))
        return cmd_consent(cfg, sub, a);
    if (!strcmp(cmd, "member"))
        return cmd_member(cfg, sub, a);
    if (!strcmp(cmd, "audit"))
        return cmd_audit(cfg, sub);
    if (!strcmp(cmd, "notice"))
        return cmd_notice(cfg, a);
    return cmd_pseudonym(cfg, a);
}

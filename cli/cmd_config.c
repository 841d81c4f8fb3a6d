/*
 * ringfix config check FILE | explain [KEY] | encrypt (--key-file F | --key-env VAR)
 *
 * check prints what the engine will run with: every key of every session after
 * [DEFAULT] inheritance and defaults, read back through the public key table of
 * engine/settings.h, so a key added there shows up here without a CLI change.
 * Secrets are never printed: keys of type "secret" and every key whose value is
 * written ENC(...) in the file are masked.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/commands.h"
#include "engine/dictionary.h"
#include "engine/error.h"
#include "engine/secret.h"
#include "engine/settings.h"

static const char *const day_names[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
					"Thursday", "Friday", "Saturday"};

static void config_usage(FILE *f)
{
	fprintf(f,
		"usage: ringfix config check FILE\n"
		"       ringfix config explain [KEY]\n"
		"       ringfix config encrypt (--key-file FILE | --key-env VAR) < secret\n\n"
		"  check    parse and validate a settings file; print each session with its\n"
		"           resolved keys (secrets masked) and its shard; exit 2 when invalid\n"
		"  explain  describe every key (or KEY): section, type, default, description\n"
		"  encrypt  read a secret from stdin (one trailing newline dropped) and print\n"
		"           ENC(...) for the settings file; the key is 64 hex digits in an\n"
		"           owner-only file or an environment variable (SecretKeyFile /\n"
		"           SecretKeyEnv in [ENGINE])\n");
}

/* Names of keys written ENC(...) anywhere in the file. The parsed settings hold
 * the decrypted text and cannot tell, so the file itself is scanned. */
struct enc_keys {
	char names[64][RFX_SETTINGS_ID_MAX];
	unsigned n;
	bool overflow; /* more than fit: mask every string */
};

static void scan_enc_keys(const char *text, struct enc_keys *ek)
{
	const char *p = text;

	memset(ek, 0, sizeof(*ek));
	while (*p) {
		const char *eol = strchr(p, '\n'), *eq, *k, *ke, *v;

		if (!eol)
			eol = p + strlen(p);
		eq = memchr(p, '=', (size_t)(eol - p));
		if (eq) {
			k = p;
			while (k < eq && (*k == ' ' || *k == '\t'))
				k++;
			ke = eq;
			while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			v = eq + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			if (eol - v >= 4 && memcmp(v, "ENC(", 4) == 0 && ke > k &&
			    (size_t)(ke - k) < RFX_SETTINGS_ID_MAX) {
				if (ek->n == sizeof(ek->names) / sizeof(ek->names[0]))
					ek->overflow = true;
				else
					memcpy(ek->names[ek->n++], k, (size_t)(ke - k));
			}
		}
		p = *eol ? eol + 1 : eol;
	}
}

static bool is_enc_key(const struct enc_keys *ek, const char *name)
{
	if (ek->overflow)
		return true;
	for (unsigned i = 0; i < ek->n; i++)
		if (strcmp(ek->names[i], name) == 0)
			return true;
	return false;
}

static int64_t read_int(const void *p, uint32_t size, int64_t max)
{
	switch (size) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)p;
	case 4: return max <= INT32_MAX ? *(const int32_t *)p : (int64_t)*(const uint32_t *)p;
	default: return (int64_t)*(const uint64_t *)p;
	}
}

/* Writes the value of key k stored in base into out. Returns false when the key
 * is not one whose value lives in a field (ignored keys). */
static bool format_value(const struct rfx_settings_key *k, const void *base,
			 const struct enc_keys *ek, char *out, size_t n)
{
	const char *field = (const char *)base + k->off;
	const char *t = k->type;

	if (strcmp(t, "ignored") == 0 || k->size == 0)
		return false;
	if (strcmp(t, "secret") == 0 || is_enc_key(ek, k->name)) {
		bool set = strcmp(t, "secret") == 0 || strcmp(t, "string") == 0 ||
			   strcmp(t, "path") == 0 ? field[0] != '\0' : true;
		snprintf(out, n, "%s", set ? "******** (secret, not shown)" : "(not set)");
		return true;
	}
	if (strcmp(t, "bool") == 0) {
		snprintf(out, n, "%s", *(const bool *)field ? "Y" : "N");
	} else if (strcmp(t, "int") == 0) {
		snprintf(out, n, "%lld", (long long)read_int(field, k->size, k->max));
	} else if (strcmp(t, "time") == 0) {
		int32_t s = *(const int32_t *)field;

		if (s < 0)
			snprintf(out, n, "(not set)");
		else
			snprintf(out, n, "%02d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
	} else if (strcmp(t, "day") == 0) {
		int32_t d = *(const int32_t *)field;

		snprintf(out, n, "%s", d >= 0 && d < 7 ? day_names[d] : "(not set)");
	} else if (strcmp(t, "enum") == 0 && k->size == sizeof(int32_t) && k->choices) {
		/* Stored as the index into choices ("a|b|c"). */
		int32_t idx = *(const int32_t *)field;
		const char *c = k->choices;

		for (int32_t i = 0; i < idx && c; i++) {
			c = strchr(c, '|');
			if (c)
				c++;
		}
		if (!c)
			snprintf(out, n, "%d", idx);
		else
			snprintf(out, n, "%.*s", (int)strcspn(c, "|"), c);
	} else if (strcmp(t, "cpulist") == 0) {
		const struct rfx_engine_settings *e = base;
		size_t len = 0;

		out[0] = '\0';
		if (e->nshard_cpus == 0)
			snprintf(out, n, "(not pinned)");
		for (unsigned i = 0; i < e->nshard_cpus && len < n; i++)
			len += (size_t)snprintf(out + len, n - len, "%s%d", i ? "," : "",
						e->shard_cpus[i]);
	} else {
		/* string, path, applverid and string enums: NUL-terminated text. */
		snprintf(out, n, "%.*s", (int)k->size, field);
		if (!out[0])
			snprintf(out, n, "(empty)");
	}
	return true;
}

static void print_section(const char *section, const void *base, const struct enc_keys *ek)
{
	unsigned nkeys;
	const struct rfx_settings_key *keys = rfx_settings_keys(&nkeys);
	char v[600];

	for (unsigned i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		if (format_value(&keys[i], base, ek, v, sizeof(v)))
			printf("  %-36s %s\n", keys[i].name, v);
	}
}

/* Dictionaries named by the sessions, each loaded once: a settings file that
 * parses but names a broken dictionary would still fail at engine start. */
struct dict_cache {
	const char *path[256]; /* beyond that, loaded again (only slower) */
	int rc[256];
	unsigned n;
	unsigned failed; /* distinct dictionaries that do not load */
};

static void check_dict(struct dict_cache *dc, const struct rfx_session_settings *ss,
		      unsigned line, const char *key, const char *path)
{
	struct rfx_dict_error err = {0};
	struct rfx_dict *d = NULL;
	int rc;

	if (!path[0])
		return;
	for (unsigned i = 0; i < dc->n; i++)
		if (strcmp(dc->path[i], path) == 0) {
			if (dc->rc[i] == 0)
				printf("  %-36s %s: loaded above\n", "(dictionary)", key);
			return;
		}
	rc = rfx_dict_load(path, &d, &err);
	if (rc < 0) {
		dc->failed++;
		/* The loader's text names the file (and line) already. */
		if (err.text[0])
			rfx_cli_err("config check", "session %s (line %u): %s: %s", ss->id,
				    line, key, err.text);
		else
			rfx_cli_err("config check", "session %s (line %u): %s: %s: %s", ss->id,
				    line, key, path, rfx_strerror(rc));
	} else {
		printf("  %-36s %s: %s, %u fields, %u messages\n", "(dictionary)", key,
		       rfx_dict_version(d), rfx_dict_nfields(d), rfx_dict_nmessages(d));
	}
	rfx_dict_free(d);
	if (dc->n < sizeof(dc->path) / sizeof(dc->path[0])) {
		dc->path[dc->n] = path;
		dc->rc[dc->n++] = rc;
	}
}

static int config_check(const char *path)
{
	struct dict_cache dicts = {.n = 0};
	struct rfx_settings_error err;
	struct rfx_settings *s = NULL;
	struct enc_keys ek;
	char *text = NULL;
	size_t len;
	int rc;

	rc = rfx_settings_load(path, &s, &err);
	if (rc < 0) {
		if (err.text[0])
			rfx_cli_err("config check", "%s", err.text);
		else
			rfx_cli_err("config check", "%s: %s", path, rfx_strerror(rc));
		if (err.count > 1)
			fprintf(stderr, "ringfix config check: %u errors in all; fix the first "
					"and check again\n", err.count);
		/* A file that cannot be read is an operational failure, not bad input. */
		return rc == RFX_ECONFIG || rc == RFX_ESECRET ? RFX_CLI_USAGE : RFX_CLI_FAIL;
	}
	rc = rfx_cli_read_all(path, &text, &len);
	if (rc < 0) {
		rfx_cli_err("config check", "%s: %s", path, strerror(-rc));
		rfx_settings_free(s);
		return RFX_CLI_FAIL;
	}
	scan_enc_keys(text, &ek);
	free(text);

	printf("settings: %s\n[ENGINE]\n", path);
	print_section("ENGINE", &s->engine, &ek);
	for (unsigned i = 0; i < s->nsessions; i++) {
		const struct rfx_session_settings *ss = &s->sessions[i];

		printf("\n[SESSION] %s\n", ss->id);
		printf("  %-36s line %u\n", "(defined at)", ss->line);
		printf("  %-36s %u of %u (%s)\n", "(shard)", ss->shard, s->engine.shards,
		       ss->shard_setting >= 0 ? "Shard= in the file" : "hash of the session ID");
		print_section("SESSION", ss, &ek);
		if (ss->use_data_dictionary) {
			check_dict(&dicts, ss, ss->line, "DataDictionary", ss->data_dictionary);
			check_dict(&dicts, ss, ss->line, "TransportDataDictionary",
				   ss->transport_data_dictionary);
			check_dict(&dicts, ss, ss->line, "AppDataDictionary",
				   ss->app_data_dictionary);
			/* FIXT.1.1: the shard loads one per ApplVerID as well. */
			for (unsigned j = 0; j < ss->napp_dicts; j++)
				check_dict(&dicts, ss, ss->app_dicts[j].line, ss->app_dicts[j].key,
					   ss->app_dicts[j].path);
		}
		for (unsigned j = 1; j < ss->nconnect; j++)
			printf("  %-36s %s:%u\n", "(failover endpoint)", ss->connect[j].host,
			       ss->connect[j].port);
	}
	if (dicts.failed) {
		printf("\nFAILED: %u dictionar%s cannot be loaded (see the errors)\n", dicts.failed,
		       dicts.failed == 1 ? "y" : "ies");
		rfx_settings_free(s);
		return RFX_CLI_USAGE;
	}
	printf("\nok: %u session%s on %u shard%s\n", s->nsessions, s->nsessions == 1 ? "" : "s",
	       s->engine.shards, s->engine.shards == 1 ? "" : "s");
	rfx_settings_free(s);
	return RFX_CLI_OK;
}

static void explain_one(const struct rfx_settings_key *k)
{
	printf("%s  [%s]  %s", k->name, k->section, k->type);
	if (strcmp(k->type, "int") == 0)
		printf(" %lld..%lld", (long long)k->min, (long long)k->max);
	if (k->choices)
		printf(" (%s)", k->choices);
	if (strcmp(k->type, "ignored") != 0)
		printf("  default: %s", !k->def ? "(required or none)" :
					k->def[0] ? k->def : "(empty)");
	printf("\n    %s\n", k->description ? k->description : "");
}

static int config_explain(const char *key)
{
	unsigned nkeys, shown = 0;
	const struct rfx_settings_key *keys = rfx_settings_keys(&nkeys);

	for (unsigned i = 0; i < nkeys; i++) {
		if (key && strcmp(keys[i].name, key) != 0)
			continue;
		explain_one(&keys[i]);
		shown++;
	}
	if (key && !shown) {
		for (unsigned i = 0; i < nkeys; i++) {
			if (strcasecmp(keys[i].name, key) == 0) {
				rfx_cli_err("config explain", "unknown key '%s': key names are "
					    "case-sensitive; did you mean %s?", key, keys[i].name);
				return RFX_CLI_USAGE;
			}
		}
		rfx_cli_err("config explain", "unknown key '%s' (ringfix config explain lists "
			    "every key)", key);
		return RFX_CLI_USAGE;
	}
	return RFX_CLI_OK;
}

static int config_encrypt(const char *key_file, const char *key_env)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char plain[4096];
	char *out = NULL;
	size_t n;
	int rc, ret = RFX_CLI_FAIL;

	if (key_file) {
		rc = rfx_secret_key_load_file(key_file, key);
		if (rc < 0) {
			rfx_cli_err("config encrypt", "key file %s: %s%s", key_file,
				    rc == RFX_ESECRET ? "" : strerror(-rc),
				    rc == RFX_ESECRET ? "not 64 hex digits, or readable by group/"
							"others (chmod 600)" : "");
			return RFX_CLI_FAIL;
		}
	} else {
		const char *hex = getenv(key_env);

		if (!hex) {
			rfx_cli_err("config encrypt", "environment variable %s is not set", key_env);
			return RFX_CLI_FAIL;
		}
		if (rfx_secret_key_from_hex(hex, strlen(hex), key) < 0) {
			rfx_cli_err("config encrypt", "environment variable %s: not 64 hex digits",
				    key_env);
			return RFX_CLI_FAIL;
		}
	}
	n = fread(plain, 1, sizeof(plain), stdin);
	if (n == sizeof(plain)) {
		rfx_cli_err("config encrypt", "secret on stdin: longer than %zu bytes",
			    sizeof(plain) - 1);
		ret = RFX_CLI_USAGE;
		goto out;
	}
	if (n > 0 && plain[n - 1] == '\n')
		n--;
	if (n > 0 && plain[n - 1] == '\r')
		n--;
	if (n == 0) {
		rfx_cli_err("config encrypt", "no secret on stdin (pipe or type it, then ^D)");
		ret = RFX_CLI_USAGE;
		goto out;
	}
	if (memchr(plain, '\0', n) || memchr(plain, '\n', n)) {
		rfx_cli_err("config encrypt", "secret on stdin: holds a NUL or a line break, "
			    "which a settings value cannot");
		ret = RFX_CLI_USAGE;
		goto out;
	}
	out = malloc(RFX_SECRET_ENC_SIZE(n));
	if (!out) {
		rfx_cli_err("config encrypt", "out of memory");
		goto out;
	}
	rc = rfx_secret_encrypt(key, plain, n, out, RFX_SECRET_ENC_SIZE(n));
	if (rc < 0) {
		rfx_cli_err("config encrypt", "encryption failed: %s", rfx_strerror(rc));
		goto out;
	}
	printf("%s\n", out);
	ret = RFX_CLI_OK;
out:
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(key, sizeof(key));
	free(out);
	return ret;
}

int rfx_cli_config(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub) {
		config_usage(stderr);
		return RFX_CLI_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			config_usage(stdout);
			return RFX_CLI_OK;
		}
	}
	if (strcmp(sub, "check") == 0) {
		if (argc != 3 || argv[2][0] == '-') {
			rfx_cli_err("config check", "expects exactly one settings FILE");
			return RFX_CLI_USAGE;
		}
		return config_check(argv[2]);
	}
	if (strcmp(sub, "explain") == 0) {
		if (argc > 3) {
			rfx_cli_err("config explain", "expects at most one KEY");
			return RFX_CLI_USAGE;
		}
		return config_explain(argc == 3 ? argv[2] : NULL);
	}
	if (strcmp(sub, "encrypt") == 0) {
		const char *file = NULL, *env = NULL;

		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
				file = argv[++i];
			} else if (strcmp(argv[i], "--key-env") == 0 && i + 1 < argc) {
				env = argv[++i];
			} else {
				rfx_cli_err("config encrypt", "unexpected argument '%s' (needs "
					    "--key-file FILE or --key-env VAR)", argv[i]);
				return RFX_CLI_USAGE;
			}
		}
		if (!file == !env) {
			rfx_cli_err("config encrypt", "give exactly one of --key-file FILE and "
				    "--key-env VAR");
			return RFX_CLI_USAGE;
		}
		return config_encrypt(file, env);
	}
	rfx_cli_err("config", "unknown subcommand '%s' (check, explain or encrypt)", sub);
	return RFX_CLI_USAGE;
}

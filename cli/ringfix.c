/*
 * ringfix: the operator's command-line tool. A dispatcher over the subcommands
 * of cli/commands.h; each lives in cli/cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* One line per command, in alphabetical order. */
static const struct command commands[] = {
	{"admin", rfx_cli_admin, "ask a running ringfixd: ping, sessions"},
	{"config", rfx_cli_config, "check a settings file, explain its keys, encrypt a secret"},
	{"decode", rfx_cli_decode, "print FIX messages one field per line with names and enums"},
	{"disconnect", rfx_cli_disconnect, "drop a session's connection (an initiator reconnects)"},
	{"echo", rfx_cli_echo, "attach to an instance and answer as the acceptance application"},
	{"logon", rfx_cli_logon, "let a session log on again after ringfix logout"},
	{"logout", rfx_cli_logout, "log a session out and keep it out until ringfix logon"},
	{"reset", rfx_cli_reset, "reset a session's sequence numbers to 1 (both sides)"},
	{"status", rfx_cli_status, "shards, sessions and counters of a running instance"},
	{"venue", rfx_cli_venue, "attach to an acceptor instance and play an exchange (acks, fills)"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ringfix COMMAND [ARGS...]\n"
		   "       ringfix help COMMAND    (or ringfix COMMAND --help)\n\n"
		   "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nexit status: 0 ok, 1 operational failure, 2 usage or bad input\n");
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stderr);
		return RFX_CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return RFX_CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ringfix %s\n", RFX_VERSION);
		return RFX_CLI_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		char help[] = "--help";
		char *hargv[3];

		if (argc < 3) {
			usage(stdout);
			return RFX_CLI_OK;
		}
		c = find(argv[2]);
		if (!c) {
			fprintf(stderr, "ringfix help: unknown command '%s' (see ringfix --help)\n",
				argv[2]);
			return RFX_CLI_USAGE;
		}
		hargv[0] = argv[2];
		hargv[1] = help;
		hargv[2] = NULL;
		return c->run(2, hargv);
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "ringfix: unknown command '%s' (see ringfix --help)\n", argv[1]);
		return RFX_CLI_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}

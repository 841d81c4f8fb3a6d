/*
 * `ringfix echo`: the acceptance application of the conformance suite
 * (../shared/conformance/README.md) as a libringfix client.
 */
#ifndef RFX_CLI_CMD_ECHO_H
#define RFX_CLI_CMD_ECHO_H

/* argv[0] is the command name ("echo"). Returns the process exit code. */
int rfx_cli_echo(int argc, char **argv);

#endif

/* Temporary main for `ringfix echo` until the ringfix dispatcher wires it. */
#include "cli/cmd_echo.h"

int main(int argc, char **argv)
{
	return rfx_cli_echo(argc, argv);
}

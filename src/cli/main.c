/* build/sonde: one binary, one command-line shape, `sonde <command> [options]`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "http", cmd_http, "trace HTTP/1.x requests served and made on this host" },
	{ "exec", cmd_exec, "trace process starts (exec; fork with --forks) and exits" },
	{ "agent", cmd_agent, "node daemon: RED metrics on /metrics, /health, spans over OTLP" },
	{ "replay", cmd_replay, "print the records of a capture written with --record, as live" },
	{ "doctor", cmd_doctor, "what this kernel offers and what sonde will use" },
	{ "bench", cmd_bench, "measure a tracer's overhead against no tracer, with statistics" },
	{ "stress", cmd_stress, "find where a tracer breaks under load, faults and bad input" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: sonde <command> [options]\n\n"
		   "sonde traces HTTP requests and processes on this host with eBPF,\n"
		   "and counts every event it could not deliver.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'sonde <command> --help' for the options of each.\n\n"
		   "EXAMPLES\n"
		   "  sonde doctor                 can sonde run on this kernel?\n"
		   "  sonde http --side server     every request the servers here answer\n"
		   "  sonde exec --json            every exec and exit as JSON lines\n"
		   "  sonde exec --comm curl       only processes named curl\n"
		   "  sonde http --record web.cap  trace, and keep the raw events for 'sonde replay'\n"
		   "  sonde bench --quick          what sonde costs here, in about a minute\n"
		   "  sonde stress --quick         where sonde breaks, and how fast it recovers\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "sonde: unknown command '%s'; run 'sonde --help' for the list\n", argv[1]);
	return EXIT_USAGE;
}

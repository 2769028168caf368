/* The subcommands of build/sonde. Each takes the arguments after its name
 * (argv[0] is the command name) and returns the process exit code:
 * 0 ok, 1 a check failed, 2 usage or environment error. */
#ifndef SONDE_CLI_COMMANDS_H
#define SONDE_CLI_COMMANDS_H

int cmd_doctor(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_http(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_stress(int argc, char **argv);

#endif

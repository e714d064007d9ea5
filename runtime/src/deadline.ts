/**
 * How long a command may run before it is killed, unless its caller says
 * otherwise. The agents' commands take milliseconds; a wedged netlink socket
 * or a firewall lock someone keeps (`iptables -w` waits for it without end)
 * would hold the state lock, and every later request behind it, for good.
 *
 * A module of its own: the host agent's settings name it as their default,
 * and a process that only reads settings (--help, a client the daemon serves)
 * runs no command.
 */
export const DEFAULT_COMMAND_DEADLINE_MS = 15_000;

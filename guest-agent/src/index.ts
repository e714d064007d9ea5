// What other packages use of the guest agent: its planner, executor and
// observation, so the CNI plugin configures a container exactly as the agent
// configures a guest; Android's ipconfig.txt codec; and, for tests, its log format, the keeper and run.
export { type DnsTarget, findOurLink, planGuest, renderResolvConf, verifiedState } from './planner.js';
export { familyOf, type GuestOp, inverseOf, ipLinesOf } from './ops.js';
export { type ApplyReport, type GuestKernel, Keeper, type KernelEvents } from './keeper.js';
export { type OwnNetns, run } from './commands/run.js';
export { type GuestLink, type GuestObserved, type IpState, observeGuest, parseIpState, withArrivedLinks, withIp6State } from './observe.js';
export { Arrivals, oneTimeLinkIn } from './events.js';
export { type EventLine, onlyEchoes, parseEventLine } from './event-lines.js';
export { OurLink } from './our-link.js';
export { applyGuest } from './apply.js';
export { follow, greet } from './host-session.js';
export { changeIp, type IpTarget, readIp } from './ip.js';
export { readStatus, StatusFile } from './status-file.js';
export { formatGuestStatus, type GuestStatus } from './commands/status.js';
export { assignmentOf, dnsOf, type IpConfigEntry, type StaticIpEntry, withEntry } from './android/ipconfig.js';
export { parseLeaseLine } from './dhcp.js';
export { leaseInKernel } from './android/framework-dhcp.js';
export { createLog, type Level } from './log.js';

// What other packages (the tests, the bench) use of host-agent as a library.
// The agent itself starts from cli.ts, and the CNI plugin from cni/main.ts.
export type * from './model/record.js';
export { guestAddressesOf, guestAddressOf, guestEndShown, guestLabel, hostEndOf, hostLinkAlias, ID_PATTERN } from './model/record.js';
export { describeHost } from './model/host-description.js';
export { describeType, hasGuestLinkType, LINK_TYPES, RECORD_TYPES, recordTypeOf } from './model/link-type.js';
export { upgradeRecord } from './state/records.js';
export type { HostObserved, Route } from './model/host.js';
export type { FirewallContent, FirewallState, GuestRule } from './model/rules.js';
export { policyRouteOf, ruleOf } from './model/rules.js';
export type { PortForward } from './model/port-forward.js';
export type { Reader, Step } from './model/step.js';
export { inPool, overlaps, parsePool, rangeOf } from './model/pool.js';
export { describePortForward, isPortForward, parsePortForward, sameForwards, sameHostPort, samePortForward } from './model/port-forward.js';
export { hasPolicy, isNetdStyle, type PolicyState, policyDefaultInterface, uplinkTable } from './model/policy.js';
export { defaultRouteInterface, ipv6Uplink, pathMtu } from './model/host.js';
export { proxyNdpBeforePath, recordPath, statePaths } from './model/paths.js';
export { uplinkProblem } from './plan/uplink.js';
export { observePolicy } from './net/policy.js';
export { limitedWarning, rateLimited } from './daemon/rate-limit.js';
export * as settingChecks from './setting-checks.js';
export { BASE_TOOLS, onPath, requireTools } from './net/tools.js';
export { readConfigFile, resolveSettings, SETTINGS } from './settings.js';
export { allocate, guestMac } from './plan/lease.js';
export { hostEndMac } from './model/mac.js';
export { configuredAsMadeLines } from './guest-config/from-host.js';
export { driverFor, planAttach, planDetach, planDetachAll } from './drivers/index.js';
export { planDetachRoutedGroup, planForward, planReconcile } from './plan/planner.js';
export { joinsGroup, mergeAttachPlans } from './plan/group.js';
export { GroupCommit } from './service/group-commit.js';
export { type Op, type SetupOp, type TeardownOp, undoOf } from './plan/ops.js';
export { stepsOf } from './exec/steps.js';
export { applySetup } from './exec/apply.js';
export { DryRunRunner, formatStep, RealRunner, RecordingRunner } from './exec/runner.js';
export { Spares } from './exec/spares.js';
export { nftables } from './firewall/nftables.js';
export { parseNftTable } from './firewall/nft-observe.js';
export { BASE as NFT_TABLE } from './firewall/nftables4.js';
export { BASE6 as NFT_TABLE6 } from './firewall/nftables6.js';
export { parseIptablesSave } from './firewall/iptables-save.js';
export { iptables } from './firewall/iptables.js';
export { firewallFor, firewallNamed } from './firewall/select.js';
export { parseRecord, recordContent } from './state/records.js';
export { type RecordChange, RecordStore, readRecords } from './state/store.js';
export { guestReachableResolvers, HOST_RESOLV_CONF, RESOLVED_UPSTREAMS } from './net/resolvers.js';
export { callDaemon, daemonListening, parseRequest as parseControlRequest, replyWithin } from './daemon/control.js';
export { GuestServices } from './daemon/guest-services.js';
export { BoundSockets, everyStep, Holdings, ownPidFile } from './daemon/lifecycle.js';
export { GuestServer } from './daemon/guests.js';
export { Daemon } from './daemon/daemon.js';
export type { DaemonHost } from './daemon/host.js';
export { LeakResponse } from './daemon/rotations.js';
export { type HostEvents, type StartMonitor, watchHost } from './daemon/monitor.js';
export { HostMemory } from './daemon/memory.js';
export { type HostQuery, hostQueries } from './model/host-queries.js';
export { AttachmentService, type HostDone } from './service/attachments.js';
export { attachResult, detachResultFor } from './service/results.js';
export { collectStatus } from './service/status.js';
export { processGuest, requireRoot } from './service/preflight.js';
export { reconcileGuest, reconcileHost, recover } from './service/recovery.js';
export { detachAllHostSide, forwardHostSide, rotatedOnReattach } from './service/host-side.js';
export { PendingConnections } from './guest-link/pending.js';
export { HostResolvers, upstreamsIn } from './dns/upstreams.js';
export { askNetd } from './dns/netd.js';
export { isQuery, RateLimit, serverFailure } from './dns/message.js';
export { type NetnsReader, PeerNetns, UNTOLD_NETNS, type UnixTable } from './guest-link/peer-netns.js';
export { type Admission, GuestAdmission } from './guest-link/admission.js';
export { Pacer, SourceBudget } from './guest-link/budget.js';
export { ConnectionGate } from './guest-link/gate.js';
export { pinNetns, rotateToken } from './service/rotation.js';
export {
  attachmentOf as cniAttachmentOf,
  parseRequest as parseCniRequest,
  parseConfig as parseCniConfig,
  parseStatus as parseCniStatus,
  replyVersion as cniReplyVersion,
  stateDirOf as cniStateDirOf,
  validAttachments as cniValidAttachments,
} from './cni/request.js';
export { forwardInForce } from './service/forwards.js';
export { dropKeptPorts, keepPorts, keptPorts } from './cni/kept-ports.js';
export * as cniCommands from './cni/commands.js';
export type { CniDaemon } from './cni/commands.js';
export { ownerOf, tryOwn, withStateLock } from './state/lock.js';
export { removeSocket } from './state/dir.js';
export { listenExclusively } from './guest-link/socket.js';
export { chooseIpv6, forwardingBefore } from './plan/ipv6.js';
export { mayMoveIpv6, planIpv6Follow, sharedIpv6Uplink } from './plan/ipv6-follow.js';
export { guestIpv6Of, inPrefix6, parsePool6, slaacAddressOf } from './model/ipv6.js';
export { defaultPool6 } from './net/ipv6.js';
export type { GuestIpv6, Ipv6ForwardingBefore } from './model/ipv6.js';
export type { HostIpv6 } from './model/host.js';
export { forCapabilities, receiveHello, SessionAuth } from './guest-link/exchange.js';
export { GuestSession } from './daemon/session.js';
export { guestConfigOf } from './guest-link/configure.js';
export { DnsForwarder } from './dns/forwarder.js';
export { serveTcp as serveDnsTcp } from './dns/tcp.js';
export {
  parseRequest as parseDhcpRequest,
  parseMessage as parseDhcpMessage,
  MessageType as DhcpMessageType,
  MAX_REQUEST_BYTES as DHCP_MAX_REQUEST_BYTES,
} from './dhcp/wire.js';
export {
  DhcpRefusal,
  ipv4Bytes,
  ipv4Of,
  joinOptions as joinDhcpOptions,
  maskOf,
  Option as DhcpOption,
  readOptions as readDhcpOptions,
  uint16Bytes,
  uint32Bytes,
  writeOptions as writeDhcpOptions,
} from './dhcp/options.js';
export { buildReply as buildDhcpReply, configOptions as dhcpConfigOptions, leaseOptions as dhcpLeaseOptions } from './dhcp/reply.js';
export {
  DhcpServerCore,
  OFFER_HOLD_MS,
  REQUESTS_PER_SECOND as DHCP_REQUESTS_PER_SECOND,
  REQUEST_BURST as DHCP_REQUEST_BURST,
} from './dhcp/core.js';
export type { DhcpEvent, LinkLease as DhcpLinkLease, Outcome as DhcpOutcome } from './dhcp/core.js';
export { DhcpServer, DhcpListenError } from './dhcp/transport.js';
export type { DhcpGuest, DhcpLookup } from './dhcp/guest.js';
export { neighbourLines, neighbourRemovalLines } from './dhcp/link-setup.js';
export {
  GUARD_DELETE_SCRIPT as DHCP_GUARD_DELETE_SCRIPT,
  guardRemovalScript as dhcpGuardRemovalScript,
  guardScript as dhcpGuardScript,
} from './dhcp/guard.js';
export { LinkRate, MAX_KEYS as DHCP_MAX_KEYS, touch as touchBounded } from './dhcp/limits.js';
export { hostEndSysctls as raHostEndSysctls, RaConfigError, radvdConfig, type RaLink } from './ra/config.js';
export { Radvd, radvdVersion, type StopMode as RadvdStopMode } from './ra/radvd.js';
export { formatDoctor, formatStatus } from './output.js';
export type { GuestStatus, Status } from './service/status.js';
export type { Finding } from './doctor/checks.js';
export * as doctorChecks from './doctor/checks.js';
export { ipv6 as ipv6Check } from './doctor/ipv6.js';
export { type DhcpHostLooks, dhcpFindings } from './doctor/dhcp.js';
export { configureGuest } from './guest-link/one-shot.js';
export { linkType as linkTypeCheck } from './doctor/link-type.js';
export { humanLine } from './log-line.js';
export { configureLog, flushLog, isJournalStream, log, logFormatOf } from './log.js';
export { loggedRequests, logReconciled, logUndoFailed } from './daemon/events.js';
export { helpOf } from './setting-flags.js';
export { interfaceId, portGuardScript } from './exec/port-guard.js';
export { isNic, type NicIdentity, type NicSeen, nicIdentityOf, notANic } from './model/nic.js';
export { locateNic, physState } from './net/links.js';
export { type LinkState, linkStates } from './net/link-state.js';
export { existingLinksWithAliases, routesCovering } from './observe.js';
export { passingName, planPortGuardRepair } from './plan/link-types.js';
export { dhcpIpv6, modeFields, refuseOneShot, settingsForMode, waitOf } from './model/guest-config-mode.js';
export { dhcpGuestOf, type DhcpLeaseView, GuestDhcp, type LeaseConfirmation } from './guest-config/dhcp-service.js';
export { GuestRa, raLinkOf } from './guest-config/ra-service.js';
export { dnsAddressesOf, GUEST_CONFIGS, type GuestConfigMode, guestConfigModeOf, isDhcpGuest } from './model/guest-config.js';
export { OptionsOnUse } from './options-on-use.js';

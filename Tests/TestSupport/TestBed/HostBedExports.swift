// The bed itself (namespaces, dnsmasq, time namespaces, proxies) lives in Sources/HostBed, shared with
// `demo-services launch --hosts`; every test target that links TestSupport sees it as before.
@_exported import HostBed

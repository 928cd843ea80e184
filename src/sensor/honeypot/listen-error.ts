// Why a honeypot listener could not open, worded so the person running the sensor knows what to do next.

export type Transport = 'tcp' | 'udp';

/** A listener that could not open: the OS error code and a message saying what to do. */
export class HoneypotListenError extends Error {
  readonly code: string;
  readonly proto: Transport;
  readonly port: number;
  readonly address: string;

  constructor(proto: Transport, port: number, address: string, cause: unknown) {
    super(listenErrorMessage(proto, port, address, cause), { cause });
    this.name = 'HoneypotListenError';
    this.code = (cause as NodeJS.ErrnoException)?.code ?? 'UNKNOWN';
    this.proto = proto;
    this.port = port;
    this.address = address;
  }
}

/** The message for an error from listen() or bind(); the advice depends on the error code. */
export function listenErrorMessage(proto: Transport, port: number, address: string, cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException)?.code;
  const what = `the honeypot cannot listen on ${proto.toUpperCase()} port ${port} at ${address}`;
  switch (code) {
    case 'EADDRINUSE':
      return (
        `${what}: another process is already using it (EADDRINUSE). Stop that process ` +
        `(\`ss -${proto === 'tcp' ? 't' : 'u'}lnp 'sport = :${port}'\` shows which), or remove the port from honeypot.${proto}_ports.`
      );
    case 'EACCES':
      if (port < 1024) {
        return (
          `${what}: ports below 1024 need privilege (EACCES). Either listen on a port of 1024 or more and ` +
          `redirect the low port to it (e.g. \`iptables -t nat -A PREROUTING -p ${proto} --dport ${port} -j REDIRECT --to-ports ${port + 10000}\`), ` +
          `or let this Node bind low ports (\`sudo setcap cap_net_bind_service=+ep ${process.execPath}\`).`
        );
      }
      return `${what}: permission denied (EACCES); a security policy (SELinux, AppArmor, a container runtime) forbids it.`;
    case 'EADDRNOTAVAIL':
      return `${what}: ${address} is not an address of this host (EADDRNOTAVAIL). Set honeypot.bind_address to one of its addresses, or to "0.0.0.0" or "::" for all of them.`;
    default: {
      const reason = cause instanceof Error ? cause.message : String(cause);
      return `${what}: ${reason}`;
    }
  }
}

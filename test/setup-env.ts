// Tests announce and listen on loopback only, and keep HLS output out of the source tree.
process.env.ANNOUNCED_IP ??= '127.0.0.1';
process.env.HOST ??= '127.0.0.1';
process.env.SHUTDOWN_GRACE_MS ??= '0';
process.env.LOG_LEVEL ??= 'warn';

import { DynamicModule, Inject, Injectable, Module, ModuleMetadata, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ClusterRegistry } from './cluster-registry';
import { CLUSTER, CLUSTER_OPTIONS } from './cluster.constants';
import { ClusterHealthIndicator } from './cluster.health';
import type { Cluster, ClusterRegistryOptions } from './cluster.types';
import { LocalCluster } from './local-cluster';

export interface ClusterModuleOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  /** The registry's options, or null for a single node (`REDIS_URL` unset). */
  useFactory: (...args: never[]) => ClusterRegistryOptions | null | Promise<ClusterRegistryOptions | null>;
}

/** Starts the cluster with the module and leaves it last: other services' shutdown hooks may still release and publish. */
@Injectable()
class ClusterLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(CLUSTER) private readonly cluster: Cluster) {}

  onModuleInit(): Promise<void> {
    return this.cluster.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.cluster.close();
  }
}

/**
 * Provides `CLUSTER` (inject as `@Inject(CLUSTER) cluster: Cluster`) and ClusterHealthIndicator.
 * Global, so the streams, delivery and ingest modules can inject it without importing it.
 */
@Module({})
export class ClusterModule {
  static forRootAsync(options: ClusterModuleOptions): DynamicModule {
    return {
      module: ClusterModule,
      global: true,
      imports: [...(options.imports ?? []), TerminusModule],
      providers: [
        { provide: CLUSTER_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
        {
          provide: CLUSTER,
          inject: [CLUSTER_OPTIONS],
          useFactory: (resolved: ClusterRegistryOptions | null): Cluster => (resolved ? new ClusterRegistry(resolved) : new LocalCluster()),
        },
        ClusterLifecycle,
        ClusterHealthIndicator,
      ],
      exports: [CLUSTER, ClusterHealthIndicator],
    };
  }
}

// Runs the bus contract against the in-process bus of the embedded profile.

import { MemoryBus } from '../../src/bus/memory.ts';
import { busContract } from './bus.contract.ts';

busContract('memory', async (opts) => new MemoryBus(opts));

/**
 * The command modules, in help order. Each exports `register(program, ctx)`; it parses and
 * prints, and imports the core lazily inside its action so that start-up stays cheap.
 * To add a command: write src/cli/NAME.ts and add one line here.
 */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import * as init from './init.js';
import * as image from './image.js';
import * as create from './create.js';
import * as guests from './guests.js';
import * as client from './client.js';
import * as group from './group.js';
import * as sync from './sync.js';
import * as initrd from './initrd.js';
import * as start from './start.js';
import * as stop from './stop.js';
import * as status from './status.js';
import * as define from './define.js';
import * as undefine from './undefine.js';
import * as console_ from './console.js';
import * as mac from './mac.js';
import * as test from './test.js';
import * as demo from './demo.js';
import * as rollout from './rollout.js';
import * as host from './host.js';
import * as completion from './completion.js';
import * as serve from './serve.js';
import * as doctor from './doctor.js';

export const commandModules: { register(program: Command, ctx: CliContext): void }[] = [init, image, create, guests, client, group, sync, initrd, start, stop, status, console_, define, undefine, mac, test, demo, rollout, host, serve, doctor, completion];

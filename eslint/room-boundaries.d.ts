import type { ESLint, Rule } from 'eslint';

export declare const lightEntryPoints: ReadonlySet<string>;
export declare const roomBoundaries: Rule.RuleModule;
export declare const roomsPlugin: ESLint.Plugin;

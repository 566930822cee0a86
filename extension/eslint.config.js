// eslint (flat config) for the extension: `make lint` runs it. Content scripts and the shared block rules are
// classic scripts (content scripts cannot be modules); the service worker, its libraries and the extension's
// pages are ES modules; the unit tests run under node.
import js from '@eslint/js';
import globals from 'globals';

const rules = {
  'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'none' }],
  eqeqeq: ['error', 'always'],
  'no-var': 'error',
  'prefer-const': 'error',
};

export default [
  { ignores: ['node_modules/**', 'tests/fakes/**'] },
  js.configs.recommended,
  {
    files: ['content/**/*.js', 'lib/contextblock.js'],
    languageOptions: { sourceType: 'script', ecmaVersion: 2022, globals: { ...globals.browser, ...globals.webextensions } },
    rules,
  },
  {
    files: ['background.js', 'options.js', 'popup.js', 'lib/**/*.js'],
    ignores: ['lib/contextblock.js'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022, globals: { ...globals.browser, ...globals.webextensions, ...globals.serviceworker } },
    rules,
  },
  {
    files: ['tests/unit/**/*.js', 'eslint.config.js'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022, globals: { ...globals.node } },
    rules,
  },
];

// ESLint (flat config): the recommended JavaScript and typescript-eslint rules over src/, test/, bench/ and
// scripts/, with the few the codebase deliberately departs from switched off and said why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'build-*/**', 'node_modules/**', 'docs/**', 'prebuilds/**', 'bench/results/**', '.gpukit/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        require: 'readonly',
        module: 'readonly',
        __dirname: 'readonly',
        __filename: 'readonly',
        Buffer: 'readonly',
        setImmediate: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      // The addon and onnxruntime-node are loaded lazily with require(): a missing one must be an error at
      // first use (with the reason), not at import.
      '@typescript-eslint/no-require-imports': 'off',
      // Comma sequences of assignments — `(a = x), (b = y);` — are this codebase's compact style for paired
      // updates; the rule flags every one of them. tsc (noUnusedLocals) and the tests catch the mistakes it would.
      '@typescript-eslint/no-unused-expressions': 'off',
      // tsc's noUnusedLocals already checks this (with the same `_name` convention for parameters).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);

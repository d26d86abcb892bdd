// ava's configuration (a file rather than package.json's "ava" field, so it can name the order in which the suite's files start: dist/test/suite-order.js).
import { e2eFilesLongestFirst } from './dist/test/suite-order.js';

export default {
  files: ['dist/test/**/*.test.js'],
  timeout: '5m',
  concurrency: 2,
  workerThreads: false,
  sortTestFiles: e2eFilesLongestFirst,
};

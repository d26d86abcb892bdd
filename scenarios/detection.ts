import { defineScenario, detect } from '../harness/index.js';

/** The tool's idea of the machine agrees with the pinned level (rpm's install arch, zypper's detected arch, dnf5's arch). */
export default defineScenario({
  id: 'detection',
  title: 'Detected architecture agrees with the pinned level',
  tags: ['detection'],
  drivers: ['rpm', 'dnf5', 'zypper'],
  steps: [detect().expect({ detectedArch: 'level' })],
});

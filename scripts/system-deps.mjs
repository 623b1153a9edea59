// The Debian packages Vigil's tests, demo extras and benchmarks need, and a check that they are there.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** command → Debian package that provides it */
export const SYSTEM_COMMANDS = {
  influxd: 'influxdb',
  mosquitto: 'mosquitto',
  mosquitto_passwd: 'mosquitto',
  openssl: 'openssl',
  storescu: 'dcmtk',
  dcmcjpeg: 'dcmtk',
  gdcmconv: 'libgdcm-tools',
  opj_decompress: 'libopenjp2-tools',
  chromium: 'chromium',
  dciodvfy: 'dicom3tools',
  Orthanc: 'orthanc',
  DicomSRValidator: 'pixelmed-apps',
  'systemd-analyze': 'systemd',
  ss: 'iproute2',
  mount: 'mount',
};

/** Debian packages without a command to probe: checked by a file they install. */
export const SYSTEM_FILES = {
  '/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm': 'python3-pydicom',
  '/usr/lib/python3/dist-packages/numpy/__init__.py': 'python3-numpy',
  '/usr/lib/python3/dist-packages/torch/__init__.py': 'python3-torch',
  '/usr/lib/python3/dist-packages/onnx/__init__.py': 'python3-onnx',
  '/usr/share/orthanc/plugins/libOrthancDicomWeb.so': 'orthanc-dicomweb',
  '/usr/lib/postgresql/15/bin/pg_ctl': 'postgresql',
};

export function missingPackages() {
  const missing = new Set();
  for (const [command, pkg] of Object.entries(SYSTEM_COMMANDS)) {
    const found = spawnSync('sh', ['-c', `command -v ${command} || test -x /usr/sbin/${command}`], { stdio: 'ignore' });
    if (found.status !== 0) missing.add(pkg);
  }
  for (const [file, pkg] of Object.entries(SYSTEM_FILES)) if (!existsSync(file)) missing.add(pkg);
  return [...missing];
}

/** Installs what is missing when running as root; otherwise explains what to install and fails. */
export function ensureSystemPackages() {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(
      `Missing Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get install -y ${missing.join(' ')}`,
    );
    process.exit(1);
  }
  console.error(`Installing missing Debian packages: ${missing.join(' ')}`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

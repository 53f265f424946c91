// The app's test (npm test): uses the devDependency is-number, which the runner must not carry.
'use strict';
const assert = require('assert');
const isNumber = require('is-number');
const leftPad = require('left-pad');

const padded = leftPad('42', 8, '0');
assert.strictEqual(padded, '00000042');
assert.ok(isNumber(padded));
console.log('ok');

// Print Node dotenv's reading of .env files as JSON: one {key: value} object per file
// given, in a list. Used by the env-validate loader comparison tests.
'use strict'
const fs = require('fs')
const dotenv = require('dotenv')

process.stdout.write(JSON.stringify(process.argv.slice(2).map((f) => dotenv.parse(fs.readFileSync(f)))))

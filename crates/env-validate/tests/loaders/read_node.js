// Print Node dotenv's reading of a .env file as JSON ({key: value}).
// Used by the env-validate loader comparison tests.
'use strict'
const fs = require('fs')
const dotenv = require('dotenv')

process.stdout.write(JSON.stringify(dotenv.parse(fs.readFileSync(process.argv[2]))))

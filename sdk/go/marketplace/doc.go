// Take Azure Marketplace offers live through the Cloud Partner Portal Go Live API, waiting on the long-running operation.
package marketplace

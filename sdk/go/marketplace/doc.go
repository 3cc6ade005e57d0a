// Take Azure Marketplace offers live through the Cloud Partner Portal Go Live API or Partner Center's Product Ingestion API, waiting on the long-running operation.
package marketplace
